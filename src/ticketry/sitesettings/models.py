"""The one row of runtime settings. A NULL column means "the environment's default"."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ticketry.core.db import Base, UTCDateTime

SINGLE_ROW_ID = 1


class SiteSettings(Base):
    __tablename__ = "site_settings"
    __table_args__ = (CheckConstraint(f"id = {SINGLE_ROW_ID}", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    ticket_prefix: Mapped[str | None] = mapped_column(String(10), default=None)
    allow_signup: Mapped[bool | None] = mapped_column(Boolean, default=None)
    attachment_retention_days: Mapped[int | None] = mapped_column(Integer, default=None)
    # Incoming mail: senders (addresses or @domains, one per line) always refused / the only ones
    # accepted when any are listed; the spam score at or above which mail is held.
    mail_deny_senders: Mapped[str | None] = mapped_column(Text, default=None)
    mail_allow_senders: Mapped[str | None] = mapped_column(Text, default=None)
    mail_spam_score: Mapped[float | None] = mapped_column(Float, default=None)
    # Whether agents may create new tags by typing them (admins always may).
    agents_create_tags: Mapped[bool | None] = mapped_column(Boolean, default=None)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    updated_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
