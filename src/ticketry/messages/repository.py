"""Who reads which messages. `readable_messages` is the ONLY place that decides it:
messages of readable tickets, never deleted ones, never internal notes for customers."""

from __future__ import annotations

from sqlalchemy import Select, select

from ticketry.auth.actor import Actor
from ticketry.messages.models import Message
from ticketry.tickets.models import Ticket
from ticketry.tickets.repository import readable_tickets


def readable_messages(actor: Actor) -> Select[Message]:
    visible_tickets = readable_tickets(actor).with_only_columns(Ticket.id)
    query = select(Message).where(
        Message.ticket_id.in_(visible_tickets.correlate(None)), Message.deleted_at.is_(None)
    )
    if not actor.is_staff:
        query = query.where(Message.is_internal.is_(False))
    return query
