"""The ticket and message events, as job handlers: who hears about each (SPEC §4, issue 5 part 5).

Customers: ticket received, each public staff reply (always), resolved and closed. Agents: a
new unassigned ticket in their departments, a ticket assigned to them, a customer reply on
their ticket, any change on a ticket they watch. Never the person who caused the event (except
the customer's own "received" confirmation). The more specific rule comes first, so an assignee
who also watches gets one mail.

Each event is one staged job: its mails are read and composed in a read transaction, then logged
together and handed to one `mail.send` job (notifier.py). These handlers own the event names: the
job registry takes one handler per name.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ticketry.jobs.registry import Writes, staged
from ticketry.messages.models import Message
from ticketry.notifications import live
from ticketry.notifications.notifier import Notifier, department_staff, load_ticket, watchers
from ticketry.notifications.preferences import Kind
from ticketry.tickets.models import STATUS_LABELS, TicketStatus

# The status changes a customer hears of.
CUSTOMER_STATUSES = {TicketStatus.RESOLVED: Kind.TICKET_RESOLVED, TicketStatus.CLOSED: Kind.TICKET_CLOSED}


def _actor(payload: dict[str, Any]) -> int | None:
    value = payload.get("actor_id")
    return int(value) if value is not None else None


@staged("tickets.created")
def ticket_created(session: Session, payload: dict[str, Any]) -> Writes | None:
    ticket = load_ticket(session, int(payload["ticket_id"]))
    if ticket is None:
        return None
    notifier = Notifier(session, ticket, actor_id=ticket.created_by_id)
    notifier.to_customer(Kind.TICKET_RECEIVED)
    if ticket.assignee_id is None:
        notifier.to_agents(department_staff(session, ticket.department_id), Kind.NEW_TICKET)
    return notifier.outbox


@staged("messages.created")
def message_created(session: Session, payload: dict[str, Any]) -> Writes | None:
    ticket = load_ticket(session, int(payload["ticket_id"]))
    message_id = int(payload["message_id"])
    row = session.execute(
        select(Message.author_id, Message.is_internal, Message.is_staff_reply).where(Message.id == message_id)
    ).one_or_none()
    if ticket is None or row is None:
        return None
    author_id, internal, staff = row
    change = "a new internal note" if internal else "a new reply"
    watching = watchers(session, ticket.id)
    notifier = Notifier(session, ticket, actor_id=author_id)
    if staff and not internal:
        notifier.to_customer(Kind.STAFF_REPLY, message_id=message_id)
    if not staff:
        notifier.to_agent(ticket.assignee, Kind.CUSTOMER_REPLY, message_id=message_id)
    notifier.to_agents(watching, Kind.WATCHED_TICKET, message_id=message_id, change=change)
    live.tell_watchers(session, notifier.outbox, ticket, watching, actor_id=author_id, change=change)
    return notifier.outbox


@staged("tickets.status_changed")
def status_changed(session: Session, payload: dict[str, Any]) -> Writes | None:
    ticket = load_ticket(session, int(payload["ticket_id"]))
    if ticket is None:
        return None
    status = TicketStatus(payload["status"])
    change = f"status set to {STATUS_LABELS[status]}"
    watching = watchers(session, ticket.id)
    notifier = Notifier(session, ticket, actor_id=_actor(payload))
    # Only if the ticket is still in that state: a resolve undone before the job ran says nothing.
    if status is ticket.status and status in CUSTOMER_STATUSES:
        notifier.to_customer(CUSTOMER_STATUSES[status])
    notifier.to_agents(watching, Kind.WATCHED_TICKET, change=change)
    live.tell_watchers(session, notifier.outbox, ticket, watching, actor_id=_actor(payload), change=change)
    return notifier.outbox


def _assignment(session: Session, payload: dict[str, Any], change: str) -> Writes | None:
    ticket = load_ticket(session, int(payload["ticket_id"]))
    if ticket is None:
        return None
    assignee_id = payload.get("assignee_id")
    watching = watchers(session, ticket.id)
    notifier = Notifier(session, ticket, actor_id=_actor(payload))
    if assignee_id is not None and ticket.assignee is not None and ticket.assignee.id == assignee_id:
        notifier.to_agent(ticket.assignee, Kind.ASSIGNED_TO_ME)
    notifier.to_agents(watching, Kind.WATCHED_TICKET, change=change)
    live.tell_watchers(session, notifier.outbox, ticket, watching, actor_id=_actor(payload), change=change)
    return notifier.outbox


@staged("tickets.assigned")
def ticket_assigned(session: Session, payload: dict[str, Any]) -> Writes | None:
    return _assignment(session, payload, "assigned")


@staged("tickets.transferred")
def ticket_transferred(session: Session, payload: dict[str, Any]) -> Writes | None:
    return _assignment(session, payload, "transferred")


@staged("tickets.unassigned")
def ticket_unassigned(session: Session, payload: dict[str, Any]) -> Writes | None:
    return _assignment(session, payload, "unassigned")


@staged("tickets.updated")
def ticket_updated(session: Session, payload: dict[str, Any]) -> Writes | None:
    ticket = load_ticket(session, int(payload["ticket_id"]))
    if ticket is None:
        return None
    change = f"{', '.join(str(name) for name in payload.get('fields', [])) or 'details'} changed"
    watching = watchers(session, ticket.id)
    notifier = Notifier(session, ticket, actor_id=_actor(payload))
    notifier.to_agents(watching, Kind.WATCHED_TICKET, change=change)
    live.tell_watchers(session, notifier.outbox, ticket, watching, actor_id=_actor(payload), change=change)
    return notifier.outbox


@staged("tickets.merged")
def ticket_merged(session: Session, payload: dict[str, Any]) -> Writes | None:
    """The secondary's customer is told when they are not the primary's (SPEC §3); watchers of
    both tickets hear of it as a change."""
    primary = load_ticket(session, int(payload["ticket_id"]))
    secondary = load_ticket(session, int(payload["secondary_id"]))
    if primary is None or secondary is None or secondary.merged_into_id != primary.id:
        return None  # deleted or unmerged before the job ran
    notifier = Notifier(session, secondary, actor_id=_actor(payload))
    if secondary.customer_id != primary.customer_id:
        notifier.to_customer_merged(primary)
    notifier.to_agents(
        watchers(session, secondary.id), Kind.WATCHED_TICKET, change=f"merged into {primary.number}"
    )
    return notifier.outbox
