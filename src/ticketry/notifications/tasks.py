"""The ticket and message events, as job handlers: who hears about each (docs/product.md §4, issue 5 part 5).

Customers: ticket received, each public staff reply (always), resolved and closed. Agents: a
new unassigned ticket in their departments, a ticket assigned to them, a customer reply on
their ticket, any change on a ticket they watch. Never the person who caused the event (except
the customer's own "received" confirmation). The more specific rule comes first, so an assignee
who also watches gets one mail.

Each event is one staged job: its mails are read and composed in a read transaction, then logged
together and handed to one `mail.send` job (notifier.py). These handlers own the event names: the
job registry takes one handler per name. The events and their payloads are declared in
`tickets.events` and `messages.events`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ticketry.jobs.registry import Writes, staged
from ticketry.messages import events as message_events
from ticketry.messages.models import Message
from ticketry.notifications import live
from ticketry.notifications.notifier import Notifier, department_staff, load_ticket, watchers
from ticketry.notifications.preferences import Kind
from ticketry.tickets import events as ticket_events
from ticketry.tickets.models import STATUS_LABELS, TicketStatus

# The status changes a customer hears of.
CUSTOMER_STATUSES = {TicketStatus.RESOLVED: Kind.TICKET_RESOLVED, TicketStatus.CLOSED: Kind.TICKET_CLOSED}


@staged(ticket_events.CREATED)
def ticket_created(session: Session, payload: ticket_events.TicketCreated) -> Writes | None:
    ticket = load_ticket(session, payload["ticket_id"])
    if ticket is None:
        return None
    notifier = Notifier(session, ticket, actor_id=ticket.created_by_id)
    notifier.to_customer(Kind.TICKET_RECEIVED)
    if ticket.assignee_id is None:
        notifier.to_agents(department_staff(session, ticket.department_id), Kind.NEW_TICKET)
    return notifier.outbox


@staged(message_events.CREATED)
def message_created(session: Session, payload: message_events.MessageCreated) -> Writes | None:
    ticket = load_ticket(session, payload["ticket_id"])
    message_id = payload["message_id"]
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


@staged(ticket_events.STATUS_CHANGED)
def status_changed(session: Session, payload: ticket_events.StatusChanged) -> Writes | None:
    ticket = load_ticket(session, payload["ticket_id"])
    if ticket is None:
        return None
    status = TicketStatus(payload["status"])
    change = f"status set to {STATUS_LABELS[status]}"
    watching = watchers(session, ticket.id)
    notifier = Notifier(session, ticket, actor_id=payload["actor_id"])
    # Only if the ticket is still in that state: a resolve undone before the job ran says nothing.
    if status is ticket.status and status in CUSTOMER_STATUSES:
        notifier.to_customer(CUSTOMER_STATUSES[status])
    notifier.to_agents(watching, Kind.WATCHED_TICKET, change=change)
    live.tell_watchers(
        session, notifier.outbox, ticket, watching, actor_id=payload["actor_id"], change=change
    )
    return notifier.outbox


def _assignment(session: Session, payload: ticket_events.AssigneeChanged, change: str) -> Writes | None:
    ticket = load_ticket(session, payload["ticket_id"])
    if ticket is None:
        return None
    assignee_id = payload["assignee_id"]
    watching = watchers(session, ticket.id)
    notifier = Notifier(session, ticket, actor_id=payload["actor_id"])
    if assignee_id is not None and ticket.assignee is not None and ticket.assignee.id == assignee_id:
        notifier.to_agent(ticket.assignee, Kind.ASSIGNED_TO_ME)
    notifier.to_agents(watching, Kind.WATCHED_TICKET, change=change)
    live.tell_watchers(
        session, notifier.outbox, ticket, watching, actor_id=payload["actor_id"], change=change
    )
    return notifier.outbox


@staged(ticket_events.ASSIGNED)
def ticket_assigned(session: Session, payload: ticket_events.AssigneeChanged) -> Writes | None:
    return _assignment(session, payload, "assigned")


@staged(ticket_events.TRANSFERRED)
def ticket_transferred(session: Session, payload: ticket_events.AssigneeChanged) -> Writes | None:
    return _assignment(session, payload, "transferred")


@staged(ticket_events.UNASSIGNED)
def ticket_unassigned(session: Session, payload: ticket_events.AssigneeChanged) -> Writes | None:
    return _assignment(session, payload, "unassigned")


@staged(ticket_events.UPDATED)
def ticket_updated(session: Session, payload: ticket_events.TicketUpdated) -> Writes | None:
    ticket = load_ticket(session, payload["ticket_id"])
    if ticket is None:
        return None
    change = f"{', '.join(payload['fields']) or 'details'} changed"
    watching = watchers(session, ticket.id)
    notifier = Notifier(session, ticket, actor_id=payload["actor_id"])
    notifier.to_agents(watching, Kind.WATCHED_TICKET, change=change)
    live.tell_watchers(
        session, notifier.outbox, ticket, watching, actor_id=payload["actor_id"], change=change
    )
    return notifier.outbox


@staged(ticket_events.MERGED)
def ticket_merged(session: Session, payload: ticket_events.TicketsMerged) -> Writes | None:
    """The secondary's customer is told when they are not the primary's (docs/product.md §3); watchers of
    both tickets hear of it as a change."""
    primary = load_ticket(session, payload["ticket_id"])
    secondary = load_ticket(session, payload["secondary_id"])
    if primary is None or secondary is None or secondary.merged_into_id != primary.id:
        return None  # deleted or unmerged before the job ran
    notifier = Notifier(session, secondary, actor_id=payload["actor_id"])
    if secondary.customer_id != primary.customer_id:
        notifier.to_customer_merged(primary)
    notifier.to_agents(
        watchers(session, secondary.id), Kind.WATCHED_TICKET, change=f"merged into {primary.number}"
    )
    return notifier.outbox
