"""Recording changes and reading the timeline."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from ticketry.auth.actor import Actor
from ticketry.core.clock import now
from ticketry.history.models import Change, TicketEvent


def record(
    session: Session,
    ticket_id: int,
    actor: Actor | None,
    changes: Iterable[Change],
    *,
    reason: str | None = None,
) -> list[TicketEvent]:
    """Add one event per change to the caller's transaction. `actor` None means the system."""
    stamp = now()
    events = [
        TicketEvent(
            ticket_id=ticket_id,
            actor_id=actor.user_id if actor else None,
            field=change.field,
            old_value=change.old,
            new_value=change.new,
            reason=reason if not change.automatic else None,
            automatic=change.automatic,
            is_internal=change.internal,
            created_at=stamp,
        )
        for change in changes
        if change.old != change.new
    ]
    session.add_all(events)
    return events


def timeline(session: Session, actor: Actor, ticket_id: int) -> list[TicketEvent]:
    """The ticket's events in order; customers get only public ones. The caller has already
    checked that the actor may see the ticket (`access_ticket`)."""
    query = (
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket_id)
        .options(joinedload(TicketEvent.actor))
        .order_by(TicketEvent.id)
    )
    if not actor.is_staff:
        query = query.where(TicketEvent.is_internal.is_(False))
    return list(session.scalars(query))
