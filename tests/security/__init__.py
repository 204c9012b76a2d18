"""One test per attack, named after it (DESIGN.md §7)."""
