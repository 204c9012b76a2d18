"""The ticket events, as jobs (see `jobs.events`): each name with its payload, declared once for
the use cases that raise them and the handlers (`notifications.tasks`) that react to them."""

from __future__ import annotations

from typing import TypedDict

from ticketry.jobs.events import Event


class TicketCreated(TypedDict):
    ticket_id: int


class TicketUpdated(TypedDict):
    ticket_id: int
    # The history fields the edit changed ("title", "priority", "tags" …).
    fields: list[str]
    actor_id: int


class StatusChanged(TypedDict):
    ticket_id: int
    # The `TicketStatus` value the ticket was set to.
    status: str
    actor_id: int


class AssigneeChanged(TypedDict):
    ticket_id: int
    assignee_id: int | None
    previous_assignee_id: int | None
    actor_id: int


class TicketsMerged(TypedDict):
    # The primary, which the secondary's messages moved to.
    ticket_id: int
    secondary_id: int
    merge_id: int
    actor_id: int


CREATED = Event("tickets.created", TicketCreated)
UPDATED = Event("tickets.updated", TicketUpdated)
STATUS_CHANGED = Event("tickets.status_changed", StatusChanged)
ASSIGNED = Event("tickets.assigned", AssigneeChanged)
UNASSIGNED = Event("tickets.unassigned", AssigneeChanged)
TRANSFERRED = Event("tickets.transferred", AssigneeChanged)
MERGED = Event("tickets.merged", TicketsMerged)
