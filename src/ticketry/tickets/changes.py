"""One place for "a ticket changed": the write rules every writer follows (ticket use cases,
messages, revisions, held mail, merge, split, watchers, links, participants, tags, bulk).

Each writer has the same shape:

    ticket = changes.begin(session, actor, ticket_id, expected_version=version)
    recorded = lifecycle.change_status(ticket, status, now())   # status moves: only the lifecycle
    changes.finish(session, actor, ticket, recorded, event=ticket_events.STATUS_CHANGED({...}))

- `begin` loads the ticket for update through visibility (one the actor cannot see is a 404),
  refuses a deleted one (409 `ticket_deleted`: those who can see it are told to restore it) and
  a version other than the one the client sent (409 `stale_ticket`). `begin_many` locks several
  in id order; `begin_trusted` is for a channel that authorised the writer itself (mail).
- `finish` stamps who changed it and when, tells open pages to refetch once the change commits,
  flushes with the 409 guard (a concurrent writer that got there first is a 409, never a 500),
  records history and enqueues the change's event, all in the caller's transaction.
- `created` announces a new ticket; `aside` a staff-only change beside a ticket (a watcher, a
  link, a participant), which moves neither its stamp nor its version.

A change is *public* when any of its history records is: a public reply, a status, title,
description, priority, department or category change. Only a public change moves what the
customer's side shows as the ticket's last change (`public_updated_at`, `public_version`) and
reaches the customer's live channels; a note, an assignment, a tag, a watcher or a link is seen
by staff alone, as its history is (docs/product.md §1: internal activity never reaches a customer, not even
as a timestamp; issue 12 item 11).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.interfaces import ORMOption

from ticketry.auth.actor import Actor
from ticketry.core.clock import now
from ticketry.history import service as history
from ticketry.history.models import Change
from ticketry.jobs import service as jobs
from ticketry.jobs.events import Envelope
from ticketry.realtime import broker as realtime
from ticketry.tickets.access import not_found
from ticketry.tickets.errors import StaleTicket, TicketDeleted
from ticketry.tickets.models import Ticket
from ticketry.tickets.repository import readable_tickets

# --- beginning a change -------------------------------------------------------------------------


def begin(
    session: Session,
    actor: Actor,
    ticket_id: int,
    *,
    expected_version: int | None = None,
    allow_deleted: bool = False,
    options: tuple[ORMOption, ...] = (),
) -> Ticket:
    """The ticket, locked for the change. `expected_version` is the version the client last saw
    (None: it sent none); `allow_deleted` is for the few changes a deleted ticket takes (being
    restored, losing a watcher)."""
    query = readable_tickets(actor, include_deleted=True).where(Ticket.id == ticket_id).options(*options)
    ticket = _lock(session, query, actor)
    if ticket is None:
        raise not_found(ticket_id)
    if not allow_deleted:
        ensure_not_deleted(ticket)
    check_version(ticket, expected_version, actor)
    return ticket


def begin_many(session: Session, actor: Actor, ticket_ids: Iterable[int]) -> dict[int, Ticket]:
    """Several tickets for one change (a merge, a link), by id. They are locked in id order, so two
    changes over the same tickets wait for each other instead of deadlocking."""
    return {ticket_id: begin(session, actor, ticket_id) for ticket_id in sorted(set(ticket_ids))}


def begin_trusted(session: Session, ticket_id: int) -> Ticket:
    """The ticket, locked, for a writer whose channel has already decided it may write here (a
    mail reply with a signed clue or from a participant): no visibility check."""
    ticket = _lock(session, select(Ticket).where(Ticket.id == ticket_id), None)
    if ticket is None:
        raise TicketDeleted("This ticket no longer exists.", details={"ticketId": ticket_id})
    ensure_not_deleted(ticket)
    return ticket


def _lock(session: Session, query: Select[Ticket], actor: Actor | None) -> Ticket | None:
    """Lock the ticket the query finds (only ever one the actor may see: the visibility clause is
    part of the locking query). If the session read it before someone else's change committed,
    its copy is stale: that is a 409 now, before anything is written on top of it."""
    row = session.execute(query.add_columns(Ticket.version).with_for_update(of=Ticket)).one_or_none()
    if row is None:
        return None
    ticket: Ticket = row[0]
    version: int = row[1]
    if ticket.version != version:
        session.refresh(ticket)
        raise stale(ticket, actor)
    return ticket


def ensure_not_deleted(ticket: Ticket) -> None:
    if ticket.deleted_at is not None:
        raise TicketDeleted(
            f"Ticket {ticket.number} is deleted. Restore it first.", details={"ticketId": ticket.id}
        )


def check_version(ticket: Ticket, expected: int | None, actor: Actor) -> None:
    """Staff send back `version`; customers the version their side shows (`public_version`),
    which staff-only work never moves."""
    current = ticket.version if actor.is_staff else ticket.public_version
    if expected is not None and expected != current:
        raise stale(ticket, actor)


def stale(ticket: Ticket, actor: Actor | None) -> StaleTicket:
    """The 409 of a ticket changed by someone else, with its current state as the actor sees it
    (None: a channel such as mail, shown the staff side)."""
    staff = actor is None or actor.is_staff
    version = ticket.version if staff else ticket.public_version
    updated = ticket.updated_at if staff else ticket.customer_updated_at
    current: dict[str, Any] = {
        "id": ticket.id,
        "version": version,
        "status": ticket.status.value,
        "title": ticket.title,
        "updatedAt": updated.isoformat(),
    }
    if staff:
        current |= {"priority": ticket.priority.value, "assigneeId": ticket.assignee_id}
    return StaleTicket(
        "The ticket was changed by someone else since you loaded it. Reload and try again.",
        details={"currentVersion": version, "current": current},
    )


# --- finishing it -------------------------------------------------------------------------------


def finish(
    session: Session,
    actor: Actor,
    ticket: Ticket,
    recorded: Sequence[Change],
    *,
    reason: str | None = None,
    stamp: datetime | None = None,
    public: bool | None = None,
    event: Envelope[Any] | None = None,
) -> None:
    """Complete a change of `ticket` that `recorded` describes (see the module docstring).
    `public` overrides what the history says for a change customers see without a public record
    of it (a public reply deleted: it vanishes from their conversation, its history stays
    staff-only; a merge: messages come or go)."""
    _touch(session, ticket, actor.user_id, recorded, stamp=stamp, public=public)
    _flush(session, ticket)
    history.record(session, ticket.id, actor, recorded, reason=reason)
    if event is not None:
        jobs.enqueue(session, event)


def _flush(session: Session, ticket: Ticket) -> None:
    """Flush; a concurrent writer that changed the ticket first (its version moved under us) is a
    409, not a 500, and nothing of this change is written. The failed flush has rolled the
    transaction back, so the 409 cannot read the ticket's current state: the client reloads."""
    ticket_id = ticket.id
    try:
        session.flush()
    except StaleDataError as error:
        raise StaleTicket(
            "The ticket was changed by someone else meanwhile. Reload and try again.",
            details={"ticketId": ticket_id},
        ) from error


def created(
    session: Session,
    actor: Actor,
    ticket: Ticket,
    recorded: Sequence[Change],
    *,
    reason: str | None = None,
    event: Envelope[Any] | None = None,
) -> None:
    """A new ticket: its history, its event, and the lists of staff and of its customer refetch."""
    history.record(session, ticket.id, actor, recorded, reason=reason)
    if event is not None:
        jobs.enqueue(session, event)
    realtime.publish(session, realtime.DESK_CHANNEL, "created")
    realtime.publish(session, realtime.customer_channel(ticket.customer_id), "created")


def aside(session: Session, actor: Actor | None, ticket_id: int, recorded: Sequence[Change]) -> None:
    """A staff-only change beside the ticket (a watcher, a link, a participant): its history, and
    staff pages refetch; nothing is stamped, the version stays, the customer's side hears nothing.
    `actor` None is the system."""
    history.record(session, ticket_id, actor, recorded)
    realtime.ticket_changed(session, ticket_id, public=False)


def is_public(changes: Iterable[Change]) -> bool:
    return any(not change.internal for change in changes)


def _touch(
    session: Session,
    ticket: Ticket,
    actor_id: int | None,
    changes: Iterable[Change],
    *,
    stamp: datetime | None,
    public: bool | None,
) -> None:
    """Stamp the change (who, when) and tell open pages to refetch, delivered only if it commits."""
    stamp = stamp or now()
    public = is_public(changes) if public is None else public
    if ticket.public_updated_at is None:  # a row from before the customer's side was kept apart
        ticket.public_updated_at = ticket.updated_at
    ticket.updated_at = stamp
    ticket.updated_by_id = actor_id
    if public:
        ticket.public_updated_at = stamp
        ticket.public_version = (ticket.public_version or 0) + 1
    realtime.ticket_changed(session, ticket.id, public=public, customer_id=ticket.customer_id)
