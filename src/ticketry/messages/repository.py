"""Who reads which messages. `readable_messages` (and its message half, `message_visibility`)
is the ONLY place that decides it: messages of readable tickets, never deleted ones, never
internal notes for customers."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, select

from ticketry.auth.actor import Actor
from ticketry.messages.models import Message
from ticketry.tickets.models import Ticket
from ticketry.tickets.repository import readable_tickets


def message_visibility(actor: Actor) -> ColumnElement[bool]:
    """The message half of `readable_messages`: never deleted messages, never notes for customers.

    Alone it says nothing about the ticket, so it is only for queries whose tickets are already
    restricted by `readable_tickets` (search matches messages and returns tickets).
    """
    if actor.is_staff:
        return Message.deleted_at.is_(None)
    return and_(Message.deleted_at.is_(None), Message.is_internal.is_(False))


def readable_messages(actor: Actor) -> Select[Message]:
    # Correlated (EXISTS on the message's own ticket), not `ticket_id IN (every readable ticket)`:
    # SQLite materialises an IN list in full for each statement, which cost one scan of all
    # visible tickets per conversation read. PostgreSQL plans both as the same semi-join.
    own_ticket_visible = (
        readable_tickets(actor).with_only_columns(Ticket.id).where(Ticket.id == Message.ticket_id).exists()
    )
    return select(Message).where(own_ticket_visible, message_visibility(actor))
