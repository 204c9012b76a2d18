"""Messages as each audience sees them."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_validator

from ticketry.attachments.schemas import AttachmentView
from ticketry.core.schemas import Id, Input, Schema
from ticketry.tickets.models import Source
from ticketry.users.models import Role


class Author(Schema):
    id: int
    name: str
    role: Role


class MessageCustomerView(Schema):
    id: int
    ticket_id: int
    author: Author
    body: str
    body_html: str
    is_staff_reply: bool
    is_solution: bool
    source: Source
    created_at: datetime
    updated_at: datetime | None
    attachments: list[AttachmentView] = Field(default_factory=list)


class MessageStaffView(MessageCustomerView):
    is_internal: bool


class ReplyCreate(Input):
    """`message` is the body; `body` is accepted as a synonym."""

    message: str = Field(default="", max_length=100_000, description="May be empty when files are attached.")
    attachment_ids: list[Id] = Field(default_factory=list, max_length=20, description="Your unsent uploads.")
    is_internal: bool = False
    is_solution: bool = False

    @model_validator(mode="before")
    @classmethod
    def body_synonym(cls, data: object) -> object:
        if isinstance(data, dict) and "body" in data and "message" not in data:
            data = dict(data)
            data["message"] = data.pop("body")
        return data
