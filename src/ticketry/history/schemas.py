"""Timeline entries per audience: customers never get reasons or internal events."""

from __future__ import annotations

from datetime import datetime

from ticketry.core.schemas import Schema


class EventActor(Schema):
    id: int
    name: str


class TicketEventCustomerView(Schema):
    id: int
    field: str
    old_value: str | None
    new_value: str | None
    automatic: bool
    actor: EventActor | None
    created_at: datetime


class TicketEventStaffView(TicketEventCustomerView):
    reason: str | None
    is_internal: bool
