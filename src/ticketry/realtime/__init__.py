"""Live updates: events published inside a transaction and delivered only if it commits,
fanned out to the browsers of this process (in-memory) or of every process (PostgreSQL
LISTEN/NOTIFY); presence for the collision warning. Events carry ids only: the browser refetches
through the normal authorised pages, so no realtime path can leak content.
May import ticketry.core only."""
