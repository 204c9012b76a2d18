"""The mail log: every mail we send and receive, with its outcome (issue 5 part 7)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ticketry.core.clock import now
from ticketry.core.db import Base, UTCDateTime
from ticketry.core.types import str_enum


class Direction(enum.StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class MailStatus(enum.StrEnum):
    # outbound
    QUEUED = "queued"
    SENT = "sent"
    RETRYING = "retrying"
    # outbound: gave up after TICKETRY_MAIL_MAX_ATTEMPTS, or refused for good; inbound: not ingestible
    FAILED = "failed"
    NOT_SENT = "not_sent"  # no SMTP server configured
    # inbound
    RECEIVED = "received"  # stored, waiting to be ingested
    CREATED_TICKET = "created_ticket"
    APPENDED = "appended"
    DUPLICATE = "duplicate"  # the same Message-ID was ingested before
    AUTO_REPLY = "auto_reply"
    BOUNCE = "bounce"
    LOOP = "loop"
    SPAM_HELD = "spam_held"
    REJECTED = "rejected"  # denied sender, too large
    # the sender could not be trusted to act as who it names (staff without proof, a forged
    # customer opening a ticket): waits for an admin to release it (docs/product.md §4)
    HELD = "held"


# Inbound outcomes an admin may send through ingestion again.
REPROCESSABLE = frozenset(
    {
        MailStatus.RECEIVED,
        MailStatus.FAILED,
        MailStatus.SPAM_HELD,
        MailStatus.REJECTED,
        MailStatus.LOOP,
        MailStatus.AUTO_REPLY,
        MailStatus.HELD,
    }
)


class MailLog(Base):
    __tablename__ = "mail_log"
    __table_args__ = (
        Index("ix_mail_log_created_at", "created_at"),
        Index("ix_mail_log_message_id_header", "message_id_header"),
        Index("ix_mail_log_ticket_id", "ticket_id"),
        Index("ix_mail_log_mailbox_uid", "mailbox_id", "imap_uidvalidity", "imap_uid"),
        Index("ix_mail_log_sender_created_at", "sender", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[Direction] = mapped_column(str_enum(Direction, "mail_direction"))
    status: Mapped[MailStatus] = mapped_column(str_enum(MailStatus, "mail_status"))
    reason: Mapped[str] = mapped_column(Text, default="")
    purpose: Mapped[str] = mapped_column(String(50))  # password_reset, staff_reply, …
    message_id_header: Mapped[str] = mapped_column(String(255))
    sender: Mapped[str] = mapped_column(String(320))
    recipients: Mapped[str] = mapped_column(Text)  # comma-separated addresses
    subject: Mapped[str] = mapped_column(String(500))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="SET NULL"), default=None)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)
    # The mail as sent: kept until it is delivered; account mail (it holds a secret link) is
    # emptied once delivered.
    raw: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # inbound: where it came from, and what it became
    mailbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("mailboxes.id", ondelete="SET NULL"), default=None
    )
    imap_uidvalidity: Mapped[int | None] = mapped_column(BigInteger, default=None)
    imap_uid: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # ingested, and the IMAP server still has to be told (mark seen or move)
    imap_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    # set when a mail became a ticket or message: the same mail delivered twice makes one
    dedupe_key: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), default=None
    )
    # inbound: what the parser had to cut, ignore or guess (`ParsedMail.problems`), for people
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
