"""The message table (docs/product.md §2 "Messages")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ticketry.attachments.models import Attachment
from ticketry.core.clock import now
from ticketry.core.db import Base, UTCDateTime
from ticketry.core.types import str_enum
from ticketry.tickets.models import Source
from ticketry.users.models import User


class Message(Base):
    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_ticket_id_id", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    is_internal: Mapped[bool] = mapped_column(Boolean, default=False)
    is_staff_reply: Mapped[bool] = mapped_column(Boolean, default=False)
    is_solution: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[Source] = mapped_column(str_enum(Source, "message_source"), default=Source.WEB)
    # A message that came by mail: the whole mail as text, and its HTML sanitised (no remote
    # images), for "show the whole e-mail"; `body` is the new text without quoted history.
    mail_text: Mapped[str | None] = mapped_column(Text, default=None)
    mail_html: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    # Set while the message sits on another ticket by a merge or split: where it came from.
    # (No foreign key, like Ticket.merged_into_id: see migration 0009.)
    moved_from_ticket_id: Mapped[int | None] = mapped_column(Integer, default=None)
    # Set while the message is mail the channel would not let speak in the conversation (docs/product.md §4):
    # from someone who is not a participant, or failing the sender checks. Such a message is
    # internal (staff only) until an agent accepts it; the text says why it was held.
    held_reason: Mapped[str | None] = mapped_column(Text, default=None)

    author: Mapped[User] = relationship(foreign_keys=[author_id], lazy="raise")
    attachments: Mapped[list[Attachment]] = relationship(
        primaryjoin="and_(Attachment.message_id == Message.id, Attachment.deleted_at.is_(None))",
        order_by="Attachment.id",
        viewonly=True,
        lazy="raise",
    )


class MessageRevision(Base):
    """A text a message had before an edit (docs/product.md §2): every revision is kept."""

    __tablename__ = "message_revisions"
    __table_args__ = (Index("ix_message_revisions_message_id_id", "message_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    # Who wrote this text and when; who replaced it by the next one and when.
    written_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    written_at: Mapped[datetime] = mapped_column(UTCDateTime)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
