"""Files on tickets and messages (SPEC §5): intake, storage, scanning, lifecycle."""
