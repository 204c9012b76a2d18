"""Files on tickets and messages (docs/product.md §5): intake, storage, scanning, lifecycle."""
