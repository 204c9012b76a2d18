"""Users, organizations and departments (docs/product.md §1)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ticketry.core.clock import now
from ticketry.core.db import Base, UTCDateTime
from ticketry.core.types import str_enum


class Role(enum.StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"
    ADMIN = "admin"

    @property
    def is_staff(self) -> bool:
        return self is not Role.CUSTOMER


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # Members of a shared organization see each other's tickets (docs/product.md §1).
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


department_members = Table(
    "department_members",
    Base.metadata,
    Column("department_id", ForeignKey("departments.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class User(Base):
    __tablename__ = "users"
    # The staff by name (`tickets.choices`, on every desk page), without reading the customers.
    __table_args__ = (Index("ix_users_role_name", "role", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(str_enum(Role, "user_role"), default=Role.CUSTOMER)
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), index=True, default=None
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Set when the user followed the link of a verification mail (or an admin vouched).
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    # Set when mail to the address bounced for good (a delivery report); notification mail skips it
    # until the address changes.
    email_undeliverable_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    email_undeliverable_reason: Mapped[str] = mapped_column(Text, default="")
    # Which notification mails the user turned off, by key (`notifications.preferences`); a key
    # that is absent means the default (on).
    notification_settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    organization: Mapped[Organization | None] = relationship(lazy="raise")
    departments: Mapped[list[Department]] = relationship(secondary=department_members, lazy="raise")
