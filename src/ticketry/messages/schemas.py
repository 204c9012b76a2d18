"""Messages as each audience sees them."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, computed_field, model_validator

from ticketry.attachments.schemas import AttachmentView
from ticketry.core.schemas import Id, Input, Schema
from ticketry.messages.revisions import Revision
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

    @computed_field  # type: ignore[prop-decorator]
    @property
    def edited(self) -> bool:
        """Shown as the "edited" marker; the earlier texts are at `.../revisions`."""
        return self.updated_at is not None


class MessageStaffView(MessageCustomerView):
    is_internal: bool
    updated_by_id: int | None = None
    held_reason: str | None = Field(
        default=None,
        description="Set on mail held for review (from someone who is not a participant, or failing "
        "the sender checks): staff only until accepted with POST .../replies/{id}/accept.",
    )


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


class MessageEdit(Input):
    """A message's new text. `expectedRevisions`: how many revisions you saw (the length of
    `.../revisions`); when given and someone edited meanwhile, the edit answers 409."""

    body: str = Field(min_length=1, max_length=100_000)
    expected_revisions: int | None = Field(default=None, ge=0, le=2**31 - 1)


class RevisionAuthor(Schema):
    id: int
    name: str


class MessageRevisionView(Schema):
    """An earlier text of a message. The same for every audience: it holds nothing staff-only,
    and who may not read the message cannot read its revisions (404)."""

    id: int
    body: str
    body_html: str
    written_by: RevisionAuthor | None
    written_at: datetime
    replaced_by: RevisionAuthor | None
    replaced_at: datetime

    @classmethod
    def of(cls, revision: Revision) -> MessageRevisionView:
        def person(user_id: int | None, name: str | None) -> RevisionAuthor | None:
            return RevisionAuthor(id=user_id, name=name) if user_id is not None and name else None

        return cls(
            id=revision.id,
            body=revision.body,
            body_html=revision.body_html,
            written_by=person(revision.written_by_id, revision.written_by_name),
            written_at=revision.written_at,
            replaced_by=person(revision.replaced_by_id, revision.replaced_by_name),
            replaced_at=revision.replaced_at,
        )
