"""Notification settings as the API shows and takes them. Every option is optional: a customer's
view carries the customer options, an agent's the agent options (the other ones are left out)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ticketry.core.schemas import Input, Schema
from ticketry.notifications.preferences import Audience


class NotificationSettingsView(Schema):
    audience: Audience = Field(description="Which options apply: `customer` or `agent`.")
    ticket_received: bool | None = Field(default=None, description="Customers: ticket received.")
    ticket_resolved: bool | None = Field(default=None, description="Customers: ticket resolved.")
    ticket_closed: bool | None = Field(default=None, description="Customers: ticket closed.")
    new_ticket: bool | None = Field(default=None, description="Agents: new ticket in my departments.")
    assigned_to_me: bool | None = Field(default=None, description="Agents: a ticket assigned to me.")
    customer_reply: bool | None = Field(default=None, description="Agents: customer reply on my ticket.")
    watched_ticket: bool | None = Field(default=None, description="Agents: any change on a watched ticket.")

    @classmethod
    def of(cls, audience: Audience, values: dict[str, bool]) -> NotificationSettingsView:
        fields: dict[str, Any] = {"audience": audience, **values}
        return cls.model_validate(fields)


class NotificationSettingsUpdate(Input):
    """The options to change; those left out keep their value."""

    ticket_received: bool | None = None
    ticket_resolved: bool | None = None
    ticket_closed: bool | None = None
    new_ticket: bool | None = None
    assigned_to_me: bool | None = None
    customer_reply: bool | None = None
    watched_ticket: bool | None = None

    def changes(self) -> dict[str, bool]:
        return {key: value for key, value in self.model_dump().items() if value is not None}
