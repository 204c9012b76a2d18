"""Background work through a transactional outbox: `enqueue()` inside the caller's transaction,
handlers registered by name, a worker that claims, runs, retries and parks jobs.
May import ticketry.core only."""
