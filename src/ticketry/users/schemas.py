"""People as the API shows them."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from ticketry.core.schemas import Email, Id, Input, Schema
from ticketry.users.models import Role, User


class UserBrief(Schema):
    id: int
    name: str


class UserContact(UserBrief):
    email: str


class DepartmentView(Schema):
    id: int
    slug: str
    name: str
    is_active: bool


class DepartmentBrief(Schema):
    id: int
    slug: str
    name: str


class OrganizationView(Schema):
    id: int
    name: str
    shared: bool
    created_at: datetime


class UserView(Schema):
    id: int
    email: str
    name: str
    role: Role
    organization_id: int | None
    department_ids: list[int]
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None

    @classmethod
    def of(cls, user: User) -> UserView:
        """`user.departments` must be loaded."""
        return cls(
            id=user.id,
            email=user.email,
            name=user.name,
            role=user.role,
            organization_id=user.organization_id,
            department_ids=[d.id for d in user.departments],
            is_active=user.is_active,
            created_at=user.created_at,
            last_login_at=user.last_login_at,
        )


Name = Field(min_length=1, max_length=200)


class UserCreate(Input):
    email: Email
    name: str = Name
    role: Role = Role.CUSTOMER
    password: str | None = Field(default=None, max_length=1000)
    organization_id: Id | None = None
    department_ids: list[Id] = Field(default_factory=list, max_length=100)


class UserUpdate(Input):
    email: Email | None = None
    name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    password: str | None = Field(default=None, max_length=1000)
    organization_id: Id | None = None
    department_ids: list[Id] | None = Field(default=None, max_length=100)
    is_active: bool | None = None


class OrganizationCreate(Input):
    name: str = Name
    shared: bool = False


class OrganizationUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    shared: bool | None = None


class DepartmentCreate(Input):
    slug: str = Field(min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str = Field(min_length=1, max_length=100)


class DepartmentUpdate(Input):
    slug: str | None = Field(default=None, min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: str | None = Field(default=None, min_length=1, max_length=100)
    is_active: bool | None = None
