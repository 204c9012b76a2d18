"""Tickets, categories, tags, watchers and the per-year number sequence (docs/product.md §2)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ticketry.attachments.models import Attachment
from ticketry.core.clock import now
from ticketry.core.db import Base, UTCDateTime
from ticketry.core.types import str_enum
from ticketry.users.models import Department, User


class TicketStatus(enum.StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    WAITING_FOR_RESPONSE = "waiting_for_response"
    ON_HOLD = "on_hold"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


# How people read a status: pages, mails and charts alike.
STATUS_LABELS = {
    TicketStatus.OPEN: "Open",
    TicketStatus.ANSWERED: "Answered",
    TicketStatus.WAITING_FOR_RESPONSE: "Waiting for response",
    TicketStatus.ON_HOLD: "On hold",
    TicketStatus.IN_PROGRESS: "In progress",
    TicketStatus.RESOLVED: "Resolved",
    TicketStatus.CLOSED: "Closed",
}


class Priority(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


class Source(enum.StrEnum):
    WEB = "web"
    EMAIL = "email"
    API = "api"


class TicketNumberSequence(Base):
    """The last number handed out per year; numbers restart each year (docs/product.md §2)."""

    __tablename__ = "ticket_number_sequences"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_value: Mapped[int] = mapped_column(Integer)


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50), unique=True)
    color: Mapped[str] = mapped_column(String(7), default="#6b7280")
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=now)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )


ticket_tags = Table(
    "ticket_tags",
    Base.metadata,
    Column("ticket_id", ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True, index=True),
)

ticket_watchers = Table(
    "ticket_watchers",
    Base.metadata,
    Column("ticket_id", ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_status_department_created", "status", "department_id", "created_at"),
        Index("ix_tickets_department_created", "department_id", "created_at"),
        Index("ix_tickets_assignee_status", "assignee_id", "status"),
        Index("ix_tickets_customer_created", "customer_id", "created_at"),
        # The lists' orders, ties by id (migration 0017).
        Index("ix_tickets_created_at", "created_at", "id"),
        Index("ix_tickets_updated_at", "updated_at", "id"),
        Index("ix_tickets_resolved_at", "resolved_at"),
        Index("ix_tickets_first_response_at", "first_response_at"),
        # Stats count every live ticket: this index holds all the grouped columns and those the
        # visibility clause reads, so the counts never touch the (wide) table rows.
        Index(
            "ix_tickets_live_counts",
            "status",
            "priority",
            "department_id",
            "assignee_id",
            postgresql_include=["id"],
            postgresql_where=text("deleted_at IS NULL"),
            sqlite_where=text("deleted_at IS NULL"),
        ),
        # The portal: a customer's live tickets by status tab (a count of theirs otherwise
        # intersected a status index of 150,000 rows at a million tickets: 25 ms, now 0.5 ms).
        Index(
            "ix_tickets_customer_status",
            "customer_id",
            "status",
            postgresql_where=text("deleted_at IS NULL"),
            sqlite_where=text("deleted_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    description_html: Mapped[str] = mapped_column(Text)
    status: Mapped[TicketStatus] = mapped_column(
        str_enum(TicketStatus, "ticket_status"), default=TicketStatus.OPEN
    )
    status_reason: Mapped[str | None] = mapped_column(Text, default=None)
    priority: Mapped[Priority] = mapped_column(str_enum(Priority, "ticket_priority"), default=Priority.MEDIUM)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), index=True, default=None
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    source: Mapped[Source] = mapped_column(str_enum(Source, "ticket_source"), default=Source.WEB)
    # A ticket opened by mail: the whole mail as text and sanitised HTML (see Message.mail_text).
    mail_text: Mapped[str | None] = mapped_column(Text, default=None)
    mail_html: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    view_count: Mapped[int] = mapped_column(Integer, default=0)
    # A merged duplicate points at the ticket it was merged into (docs/product.md §3); mail to it lands there.
    # No foreign key: adding one on SQLite rebuilds the table and drops its search triggers
    # (migration 0009); tickets are only ever soft-deleted, so the id always exists.
    merged_into_id: Mapped[int | None] = mapped_column(Integer, index=True, default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # What the customer's side shows as "updated" and as the version to send back: changed only
    # by what a customer can see (a public reply, a status or title change), never by a note, an
    # assignment or a tag, so neither leaks staff activity (issue 12 item 11). NULL on tickets
    # migrated before it existed: read as `updated_at` (see `customer_updated_at`).
    public_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=now)
    public_version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))

    department: Mapped[Department] = relationship(lazy="raise")
    category: Mapped[Category | None] = relationship(lazy="raise")
    customer: Mapped[User] = relationship(foreign_keys=[customer_id], lazy="raise")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="raise")
    tags: Mapped[list[Tag]] = relationship(secondary=ticket_tags, lazy="raise", order_by=Tag.name)
    watchers: Mapped[list[User]] = relationship(secondary=ticket_watchers, lazy="raise")
    # The files of the description; messages have their own.
    attachments: Mapped[list[Attachment]] = relationship(
        primaryjoin="and_(Attachment.ticket_id == Ticket.id, Attachment.message_id.is_(None),"
        " Attachment.deleted_at.is_(None))",
        order_by="Attachment.id",
        viewonly=True,
        lazy="raise",
    )

    __mapper_args__ = {"version_id_col": version}

    @property
    def customer_updated_at(self) -> datetime:
        return self.public_updated_at or self.updated_at


class ParticipantRole(enum.StrEnum):
    """How someone came to take part in a ticket's conversation (besides its customer)."""

    CC = "cc"  # the customer copied them on a mail to the ticket
    ACCEPTED = "accepted"  # an agent accepted a mail of theirs into the conversation
    ADDED = "added"  # staff added them


class TicketParticipant(Base):
    """Someone whose mail joins the ticket's conversation as it comes (docs/product.md §4): besides the
    customer (and members of a shared organization), only these. Anyone else's mail is held as a
    staff-only message until an agent accepts it."""

    __tablename__ = "ticket_participants"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    role: Mapped[ParticipantRole] = mapped_column(str_enum(ParticipantRole, "ticket_participant_role"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), default=None)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="raise")


class LinkKind(enum.StrEnum):
    RELATED = "related"
    DUPLICATE = "duplicate"
    # `source` is the parent of `target`.
    PARENT = "parent"


class TicketLink(Base):
    """Two tickets shown on each other's page: related, duplicate, or parent and child."""

    __tablename__ = "ticket_links"
    __table_args__ = (
        UniqueConstraint("source_id", "target_id", name="uq_ticket_links_pair"),
        CheckConstraint("source_id <> target_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    target_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    kind: Mapped[LinkKind] = mapped_column(str_enum(LinkKind, "ticket_link_kind"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )


class TicketMerge(Base):
    """One merge of `secondary` into `primary`, with what unmerge needs to put both back."""

    __tablename__ = "ticket_merges"

    id: Mapped[int] = mapped_column(primary_key=True)
    primary_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    secondary_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    # The secondary's fields before the merge, the ids of what moved, and anything created.
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    merged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    merged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    unmerged_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    unmerged_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
