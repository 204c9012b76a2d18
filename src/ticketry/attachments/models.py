"""Stored files and the attachments that point at them.

A blob is one stored content, keyed by its SHA-256: identical files are stored once. An
attachment is one upload of a blob under a name, first pending (no ticket yet, visible to its
uploader only), then bound to a ticket's description or to a message. The foreign keys name
the ticket and message tables as strings: those layers sit above this one.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ticketry.attachments.kinds import is_previewable
from ticketry.core.clock import now
from ticketry.core.db import Base, UTCDateTime


class Blob(Base):
    __tablename__ = "attachment_blobs"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # hex SHA-256 of the content
    size: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    # Touched by every upload of this content before it is written; the collector spares
    # blobs seen recently, so an upload racing the collector never loses its file.
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Attachment(Base):
    __tablename__ = "attachments"
    __table_args__ = (
        Index("ix_attachments_ticket_id", "ticket_id"),
        Index("ix_attachments_message_id", "message_id"),
        Index("ix_attachments_blob_key", "blob_key"),
        Index("ix_attachments_pending", "uploaded_by_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    blob_key: Mapped[str] = mapped_column(ForeignKey("attachment_blobs.key"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    size: Mapped[int] = mapped_column(BigInteger)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), default=None)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), default=None
    )
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)

    @property
    def sha256(self) -> str:
        return self.blob_key

    @property
    def url(self) -> str:
        return f"/api/v1/attachments/{self.id}/content"

    @property
    def previewable(self) -> bool:
        return is_previewable(self.kind)

    @property
    def is_pending(self) -> bool:
        return self.ticket_id is None
