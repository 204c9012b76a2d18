"""One test per attack, named after it (docs/architecture.md §7)."""
