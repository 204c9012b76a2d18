"""The 7-state lifecycle (docs/product.md §2) as data, plus the automatic rules. Pure: no I/O.

Each function mutates the ticket in memory and returns the `Change`s it made, for history.
"""

from __future__ import annotations

from datetime import datetime

from ticketry.history.models import Change
from ticketry.tickets.errors import InvalidTransition, TicketClosed
from ticketry.tickets.models import Ticket, TicketStatus

S = TicketStatus

TRANSITIONS: dict[TicketStatus, tuple[TicketStatus, ...]] = {
    S.OPEN: (S.ANSWERED, S.IN_PROGRESS, S.ON_HOLD, S.CLOSED),
    S.ANSWERED: (S.IN_PROGRESS, S.ON_HOLD, S.WAITING_FOR_RESPONSE, S.CLOSED),
    S.WAITING_FOR_RESPONSE: (S.ANSWERED, S.IN_PROGRESS, S.CLOSED),
    S.ON_HOLD: (S.IN_PROGRESS, S.ANSWERED, S.CLOSED),
    S.IN_PROGRESS: (S.RESOLVED, S.ON_HOLD, S.CLOSED),
    S.RESOLVED: (S.CLOSED, S.OPEN),
    S.CLOSED: (S.OPEN,),
}

# Lists sort by lifecycle position, not alphabetically.
STATUS_ORDER: tuple[TicketStatus, ...] = tuple(TicketStatus)
# Statuses in which a ticket still needs work; counted as "open" in workloads.
ACTIVE_STATUSES: frozenset[TicketStatus] = frozenset(
    {S.OPEN, S.ANSWERED, S.WAITING_FOR_RESPONSE, S.ON_HOLD, S.IN_PROGRESS}
)
# A customer's own reply wakes the ticket from these (docs/product.md §2).
_CUSTOMER_REPLY_REOPENS = frozenset({S.ANSWERED, S.WAITING_FOR_RESPONSE, S.RESOLVED})


def allowed_targets(status: TicketStatus) -> tuple[TicketStatus, ...]:
    return TRANSITIONS[status]


def check_transition(current: TicketStatus, target: TicketStatus) -> None:
    if target not in TRANSITIONS[current]:
        allowed = [s.value for s in TRANSITIONS[current]]
        raise InvalidTransition(
            f"A ticket cannot go from '{current.value}' to '{target.value}'. "
            f"Allowed next states: {', '.join(allowed)}.",
            details={"from": current.value, "to": target.value, "allowed": allowed},
        )


def _enter(ticket: Ticket, target: TicketStatus, at: datetime, *, automatic: bool) -> list[Change]:
    """Set the status and the timestamps that go with it."""
    old = ticket.status
    ticket.status = target
    changes = [Change("status", old.value, target.value, automatic=automatic)]
    if target is S.RESOLVED:
        ticket.resolved_at = at
    elif target is S.CLOSED:
        ticket.closed_at = at
    elif target is S.OPEN and old in (S.RESOLVED, S.CLOSED):
        ticket.resolved_at = None
        ticket.closed_at = None
    return changes


def change_status(ticket: Ticket, target: TicketStatus, at: datetime) -> list[Change]:
    """A manual transition: refused unless the table allows it."""
    check_transition(ticket.status, target)
    return _enter(ticket, target, at, automatic=False)


def on_assign(ticket: Ticket, at: datetime) -> list[Change]:
    if ticket.status is S.OPEN:
        return _enter(ticket, S.IN_PROGRESS, at, automatic=True)
    return []


def on_unassign(ticket: Ticket, at: datetime) -> list[Change]:
    if ticket.status is S.IN_PROGRESS:
        return _enter(ticket, S.OPEN, at, automatic=True)
    return []


def on_merged(ticket: Ticket, at: datetime) -> list[Change]:
    """A duplicate merged into another ticket closes, whatever its state (docs/product.md §3)."""
    if ticket.status is S.CLOSED:
        return []
    return _enter(ticket, S.CLOSED, at, automatic=True)


def on_unmerged(
    ticket: Ticket, status: TicketStatus, *, resolved_at: datetime | None, closed_at: datetime | None
) -> list[Change]:
    """Undoing a merge puts the duplicate back as it was before (its status and their times).
    The one move outside the table: it restores a state rather than making a transition."""
    old = ticket.status
    ticket.status = status
    ticket.resolved_at = resolved_at
    ticket.closed_at = closed_at
    return [] if old is status else [Change("status", old.value, status.value, automatic=True)]


def ensure_accepts_replies(ticket: Ticket) -> None:
    if ticket.status is S.CLOSED:
        raise TicketClosed(
            "This ticket is closed and takes no more replies. Reopen it, or open a new ticket.",
            details={"status": ticket.status.value, "allowed": ["open"]},
        )


def on_staff_reply(ticket: Ticket, at: datetime, *, internal: bool) -> list[Change]:
    """A public staff reply sets first_response_at once and answers an open ticket. A note does neither."""
    ensure_accepts_replies(ticket)
    if internal:
        return []
    changes: list[Change] = []
    if ticket.first_response_at is None:
        ticket.first_response_at = at
    if ticket.status is S.OPEN:
        changes += _enter(ticket, S.ANSWERED, at, automatic=True)
    return changes


def on_customer_reply(ticket: Ticket, at: datetime) -> list[Change]:
    ensure_accepts_replies(ticket)
    if ticket.status in _CUSTOMER_REPLY_REOPENS:
        return _enter(ticket, S.OPEN, at, automatic=True)
    return []
