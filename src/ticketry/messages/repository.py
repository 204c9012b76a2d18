"""Who reads which messages. `readable_messages` is the ONLY place that decides it:
messages of readable tickets, never deleted ones, never internal notes for customers."""

from __future__ import annotations

from sqlalchemy import Select, select

from ticketry.auth.actor import Actor
from ticketry.messages.models import Message
from ticketry.tickets.models import Ticket
from ticketry.tickets.repository import readable_tickets


def readable_messages(actor: Actor) -> Select[Message]:
    # Correlated (EXISTS on the message's own ticket), not `ticket_id IN (every readable ticket)`:
    # SQLite materialises an IN list in full for each statement, which cost one scan of all
    # visible tickets per conversation read. PostgreSQL plans both as the same semi-join.
    own_ticket_visible = (
        readable_tickets(actor).with_only_columns(Ticket.id).where(Ticket.id == Message.ticket_id).exists()
    )
    query = select(Message).where(own_ticket_visible, Message.deleted_at.is_(None))
    if not actor.is_staff:
        query = query.where(Message.is_internal.is_(False))
    return query
