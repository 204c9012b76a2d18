"""Support mailboxes: where mail comes in (IMAP polled, or pushed to the inbound webhook)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ticketry.core.clock import now
from ticketry.core.db import Base, UTCDateTime
from ticketry.core.types import str_enum
from ticketry.mailparse.imap import ImapSecurity


class ProcessedAction(enum.StrEnum):
    """What happens on the IMAP server to a mail once it is ingested."""

    MARK_SEEN = "mark_seen"
    MOVE = "move"


class Mailbox(Base):
    __tablename__ = "mailboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # The support address customers write to; mail From it is our own coming back.
    address: Mapped[str] = mapped_column(String(254), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # IMAP; no host means the mailbox only receives through the webhook.
    imap_host: Mapped[str] = mapped_column(String(255), default="")
    imap_port: Mapped[int] = mapped_column(Integer, default=993)
    imap_security: Mapped[ImapSecurity] = mapped_column(
        str_enum(ImapSecurity, "imap_security"), default=ImapSecurity.TLS
    )
    imap_username: Mapped[str] = mapped_column(String(320), default="")
    imap_password_sealed: Mapped[str] = mapped_column(Text, default="")  # core.crypto, never returned
    imap_folder: Mapped[str] = mapped_column(String(255), default="INBOX")
    processed_action: Mapped[ProcessedAction] = mapped_column(
        str_enum(ProcessedAction, "mail_processed_action"), default=ProcessedAction.MARK_SEEN
    )
    processed_folder: Mapped[str] = mapped_column(String(255), default="Processed")
    poll_interval_seconds: Mapped[int] = mapped_column(Integer, default=60)
    # The inbound webhook's secret, hashed (SHA-256); shown once when set.
    webhook_secret_hash: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    # Poller state: which mail was seen, and who polls now.
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger, default=None)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    next_poll_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    poll_locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    poll_locked_by: Mapped[str | None] = mapped_column(String(200), default=None)
    last_polled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
