"""Site settings as the API shows and takes them."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from ticketry.core.schemas import Input, Schema


class SiteSettingsView(Schema):
    ticket_prefix: str = Field(description="New ticket numbers look like PREFIX-2026-0001.")
    allow_signup: bool = Field(description="Customers may create their own accounts in the portal.")
    attachment_retention_days: int = Field(
        description="Files of deleted tickets and messages are purged this many days later."
    )
    default_ticket_prefix: str = Field(description="The environment's value (TICKETRY_TICKET_PREFIX).")
    default_allow_signup: bool = Field(description="The environment's value (TICKETRY_ALLOW_SIGNUP).")
    default_attachment_retention_days: int = Field(
        description="The environment's value (TICKETRY_ATTACHMENT_RETENTION_DAYS)."
    )
    updated_at: datetime | None


class SiteSettingsUpdate(Input):
    ticket_prefix: str | None = Field(
        default=None,
        min_length=1,
        max_length=10,
        description="1-10 capital letters or digits, starting with a letter (lower case is raised).",
    )
    allow_signup: bool | None = None
    attachment_retention_days: int | None = Field(default=None, ge=0, le=36500)
