"""`/api/v1`: thin adapters that parse, call one use case and return a schema (docs/architecture.md §5).
May import every domain package."""
