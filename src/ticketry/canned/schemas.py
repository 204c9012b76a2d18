"""API shapes of canned replies: camelCase out, snake or camel in."""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import Field

from ticketry.auth.actor import Actor
from ticketry.auth.permissions import Permission
from ticketry.canned.models import CannedReply
from ticketry.canned.render import unknown_variables
from ticketry.core.pagination import PaginationView
from ticketry.core.schemas import Id, Input, Schema

MAX_TITLE = 200
MAX_CATEGORY = 100
MAX_BODY = 20_000


class Scope(enum.StrEnum):
    """Whose replies a list shows: the agent's own, the shared ones, or both."""

    PERSONAL = "personal"
    SHARED = "shared"
    ALL = "all"


class CannedSort(enum.StrEnum):
    TITLE = "title"
    USAGE = "usage"
    LAST_USED = "last_used"
    CATEGORY = "category"


class CannedReplyCreate(Input):
    title: str = Field(min_length=1, max_length=MAX_TITLE)
    body: str = Field(min_length=1, max_length=MAX_BODY)
    category: str | None = Field(default=None, max_length=MAX_CATEGORY)
    shared: bool = Field(default=False, description="Shared with every agent (needs admin:canned).")


class CannedReplyUpdate(Input):
    """Only the fields sent change; `category: null` (or "") clears the category."""

    title: str | None = Field(default=None, min_length=1, max_length=MAX_TITLE)
    body: str | None = Field(default=None, min_length=1, max_length=MAX_BODY)
    category: str | None = Field(default=None, max_length=MAX_CATEGORY)
    shared: bool | None = Field(default=None, description="Move between personal and shared (admins).")


class RenderIn(Input):
    ticket_id: Id


class CannedReplyView(Schema):
    id: int
    title: str
    body: str
    category: str | None
    shared: bool
    usage_count: int
    last_used_at: datetime | None
    created_at: datetime
    updated_at: datetime
    # Whether the caller may change or delete it (the owner; admins for shared ones).
    can_edit: bool
    # Placeholders outside the allow-list: they render as nothing (see canned.render).
    unknown_variables: list[str]

    @classmethod
    def of(cls, reply: CannedReply, actor: Actor) -> CannedReplyView:
        shared = reply.owner_id is None
        return cls(
            id=reply.id,
            title=reply.title,
            body=reply.body,
            category=reply.category,
            shared=shared,
            usage_count=reply.usage_count,
            last_used_at=reply.last_used_at,
            created_at=reply.created_at,
            updated_at=reply.updated_at,
            can_edit=actor.can(Permission.ADMIN_CANNED) if shared else reply.owner_id == actor.user_id,
            unknown_variables=unknown_variables(reply.body),
        )


class CannedReplyPage(Schema):
    data: list[CannedReplyView]
    pagination: PaginationView


class RenderedReply(Schema):
    id: int
    ticket_id: int
    text: str
    unknown_variables: list[str]
    usage_count: int
    last_used_at: datetime | None


class CategoryCount(Schema):
    name: str
    count: int


class VariableInfo(Schema):
    name: str
    placeholder: str
    description: str
