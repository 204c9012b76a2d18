"""Stamping a ticket as changed: one function for every writer (tickets, messages, revisions,
merge, split, watchers, links).

A change is *public* when any of its history records is: a public reply, a status, title,
description, priority, department or category change. Only a public change moves what the
customer's side shows as the ticket's last change (`public_updated_at`, `public_version`) and
reaches the customer's live channels; a note, an assignment, a tag, a watcher or a link is seen
by staff alone, as its history is (SPEC §1: internal activity never reaches a customer, not even
as a timestamp; issue 12 item 11).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from ticketry.core.clock import now
from ticketry.history.models import Change
from ticketry.realtime import broker as realtime
from ticketry.tickets.models import Ticket


def is_public(changes: Iterable[Change]) -> bool:
    return any(not change.internal for change in changes)


def touch(
    session: Session,
    ticket: Ticket,
    actor_id: int | None,
    changes: Iterable[Change],
    *,
    stamp: datetime | None = None,
    kind: str = "changed",
    public: bool | None = None,
) -> None:
    """Stamp the change (who, when) and tell open pages to refetch, delivered only if the change
    commits. The caller records `changes` in history as usual. `public` overrides what the
    history says for a change customers see without a public record of it (a public reply
    deleted: it vanishes from their conversation, and its history stays staff-only)."""
    stamp = stamp or now()
    public = is_public(changes) if public is None else public
    if ticket.public_updated_at is None:  # a row from before the customer's side was kept apart
        ticket.public_updated_at = ticket.updated_at
    ticket.updated_at = stamp
    ticket.updated_by_id = actor_id
    if public:
        ticket.public_updated_at = stamp
        ticket.public_version = (ticket.public_version or 0) + 1
    realtime.ticket_changed(session, ticket.id, kind, public=public, customer_id=ticket.customer_id)


def announce_internal(session: Session, ticket_id: int) -> None:
    """A staff-only change beside the ticket (a watcher, a link): staff pages refetch, nothing is
    stamped, and the customer's side hears nothing."""
    realtime.ticket_changed(session, ticket_id, public=False)
