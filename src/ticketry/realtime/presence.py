"""Presence heartbeats: a browser tab on a ticket reports every few seconds; entries older than
`TTL` have left. Stored in the database so that every web process sees every agent."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from ticketry.core.clock import now
from ticketry.core.db import upsert
from ticketry.realtime.broker import publish
from ticketry.realtime.models import Presence, PresenceState

TTL = timedelta(seconds=30)
_table: Table = Presence.__table__  # type: ignore[assignment]


def beat(session: Session, *, ticket_id: int, user_id: int, user_name: str, state: PresenceState) -> None:
    """Record this user's presence; tell the ticket's other viewers when it changed. One upsert,
    because a tab's first beats (opening the page, starting to type) can arrive together."""
    stamp = now()
    row = session.get(Presence, (ticket_id, user_id))
    changed = row is None or row.state is not state or row.seen_at < stamp - TTL
    values = {"user_name": user_name, "state": state, "seen_at": stamp}
    statement = upsert(session, _table).values(ticket_id=ticket_id, user_id=user_id, **values)
    session.execute(statement.on_conflict_do_update(index_elements=["ticket_id", "user_id"], set_=values))
    if row is not None:
        session.expire(row)
    if changed:
        publish(session, f"ticket:{ticket_id}", "presence")


def leave(session: Session, *, ticket_id: int, user_id: int) -> None:
    session.execute(delete(Presence).where(Presence.ticket_id == ticket_id, Presence.user_id == user_id))
    publish(session, f"ticket:{ticket_id}", "presence")


def others(session: Session, *, ticket_id: int, user_id: int) -> list[Presence]:
    """Everyone else on this ticket right now, typists first."""
    rows = session.scalars(
        select(Presence).where(
            Presence.ticket_id == ticket_id, Presence.user_id != user_id, Presence.seen_at >= now() - TTL
        )
    )
    return sorted(rows, key=lambda p: (p.state is not PresenceState.TYPING, p.user_name))


def purge(session: Session) -> None:
    session.execute(delete(Presence).where(Presence.seen_at < now() - TTL * 4))
