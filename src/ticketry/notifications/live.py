"""Live notes to watchers (SPEC §4): a watcher with the desk open sees "TICK-… changed" at once.

Each watcher gets an event on their own `user:<id>` channel, sent after the job's transaction
commits. It carries the ticket's id and number and a short wording of the change (the same words
as the watcher's mail), nothing else; recipients are checked like mail recipients: active staff
who can still read the ticket, never the person who made the change. Unlike mail it does not
depend on the mail preferences: it is only shown to someone who has the desk open.
"""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from ticketry.auth import service as auth_service
from ticketry.notifications.notifier import watchers
from ticketry.realtime import broker as realtime
from ticketry.tickets.models import Ticket
from ticketry.tickets.repository import readable_tickets

EVENT = "watched"


def tell_watchers(session: Session, ticket: Ticket, *, actor_id: int | None, change: str) -> list[int]:
    """Publish to each watcher who may hear of it; returns their user ids."""
    told: list[int] = []
    detail = json.dumps({"ticketId": ticket.id, "number": ticket.number, "change": change})
    for user in watchers(session, ticket.id):
        if user.id == actor_id or not user.is_active:
            continue
        actor = auth_service.actor_for(session, user)
        visible = session.scalar(
            readable_tickets(actor).with_only_columns(Ticket.id).where(Ticket.id == ticket.id)
        )
        if not actor.is_staff or visible is None:
            continue
        realtime.publish(session, realtime.user_channel(user.id), EVENT, detail)
        told.append(user.id)
    return told
