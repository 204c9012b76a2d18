"""Who has a ticket open, and whether they are typing (the collision warning)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from ticketry.core.db import Base, UTCDateTime
from ticketry.core.types import str_enum


class PresenceState(enum.StrEnum):
    VIEWING = "viewing"
    TYPING = "typing"


class Presence(Base):
    __tablename__ = "presence"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(200))
    state: Mapped[PresenceState] = mapped_column(str_enum(PresenceState, "presence_state"))
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
