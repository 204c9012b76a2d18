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
    mail_deny_senders: str = Field(
        description="Incoming mail from these is refused: one address or domain per line."
    )
    mail_allow_senders: str = Field(
        description="Mail from these is never held as spam: one address or domain per line."
    )
    mail_spam_score: float | None = Field(
        description="Mail whose X-Spam-Score (or score in X-Spam-Status) reaches this is held; null: off."
    )
    agents_create_tags: bool = Field(
        description="Agents may create tags by typing a new name; when off, only admins create tags."
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
    agents_create_tags: bool | None = None
    attachment_retention_days: int | None = Field(default=None, ge=0, le=36500)
    mail_deny_senders: str | None = Field(
        default=None, max_length=200_000, description="One address or domain (example.com) per line."
    )
    mail_allow_senders: str | None = Field(
        default=None, max_length=200_000, description="One address or domain (example.com) per line."
    )
    mail_spam_score: float | None = Field(
        default=None, ge=-1000, le=1000, allow_inf_nan=False, description="An explicit null turns it off."
    )
