"""Ticket history: every change (field, old, new, actor, time, reason, automatic or not) recorded
in the same transaction as the change, and the timeline each audience may see.
May import ticketry.auth and below."""
