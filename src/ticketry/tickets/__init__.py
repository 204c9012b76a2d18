"""Tickets: the model, numbering, the lifecycle (pure), who may see what (`readable_tickets`,
`access_ticket`), categories, tags, watchers, and the use cases that change tickets.
May import ticketry.history, ticketry.auth and below."""
