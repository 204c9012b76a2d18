"""Finding tickets: filters, sorting, pagination and full-text search (SQLite FTS5 or PostgreSQL
tsvector), always ANDed with `readable_tickets` / `readable_messages`.
May import ticketry.messages and below."""
