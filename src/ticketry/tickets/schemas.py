"""Tickets as each audience sees them, and what clients may send.

`*CustomerView` schemas do not even declare staff-only fields (docs/product.md §1): what is not declared
cannot be serialised to a customer by mistake.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, Field

from ticketry.attachments.schemas import AttachmentView
from ticketry.core.schemas import Id, Input, Schema, Version
from ticketry.tickets.lifecycle import allowed_targets
from ticketry.tickets.models import Priority, Source, Ticket, TicketStatus
from ticketry.users.schemas import DepartmentBrief, UserBrief, UserContact


def _one_line(value: str) -> str:
    return " ".join(value.split())


Title = Annotated[str, AfterValidator(_one_line), Field(min_length=1, max_length=200)]
Body = Annotated[str, Field(min_length=1, max_length=100_000)]
# Bounded like the column it names, so an oversize reference is a 422, not a lookup echoing it back.
DepartmentRef = Annotated[
    Annotated[str, Field(max_length=100)] | Id, Field(description="Department id, slug or name.")
]
TagName = Annotated[str, Field(min_length=1, max_length=50)]


class CategoryView(Schema):
    id: int
    name: str
    description: str
    is_active: bool


class CategoryBrief(Schema):
    id: int
    name: str


class TagView(Schema):
    id: int
    name: str
    color: str


class _TicketBase(Schema):
    id: int
    number: str
    title: str
    status: TicketStatus
    priority: Priority
    department: DepartmentBrief
    category: CategoryBrief | None
    source: Source
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    version: int


class _CustomerSide(_TicketBase):
    """What changes a customer sees: their side's last change and version move only with what
    they can see (`tickets.changes`), so a note or an assignment does not show as activity."""

    updated_at: datetime = Field(validation_alias="customer_updated_at")
    version: int = Field(
        validation_alias="public_version", description="Send it back to guard an edit (409 if stale)."
    )


class TicketCustomerListItem(_CustomerSide):
    pass


class TicketListItem(_TicketBase):
    customer: UserContact
    assignee: UserBrief | None
    tags: list[TagView]
    first_response_at: datetime | None


class TicketCustomerView(_CustomerSide):
    description: str
    description_html: str
    first_response_at: datetime | None
    customer: UserBrief
    attachments: list[AttachmentView] = Field(default_factory=list, description="Files of the description.")
    editable: bool = Field(
        default=False, description="Whether the requester may still edit title and description."
    )

    @classmethod
    def of(cls, ticket: Ticket) -> TicketCustomerView:
        view = cls.model_validate(ticket)
        view.editable = ticket.status is TicketStatus.OPEN and ticket.first_response_at is None
        return view


class TicketStaffView(TicketListItem):
    description: str
    description_html: str
    status_reason: str | None
    view_count: int
    created_by_id: int | None
    updated_by_id: int | None
    deleted_at: datetime | None
    deleted_by_id: int | None
    merged_into_id: int | None = Field(default=None, description="Set when merged into that ticket.")
    attachments: list[AttachmentView] = Field(default_factory=list, description="Files of the description.")
    allowed_statuses: list[TicketStatus] = Field(default_factory=list)
    watchers: list[UserBrief] = Field(default_factory=list, description="Staff who watch the ticket.")

    @classmethod
    def of(cls, ticket: Ticket) -> TicketStaffView:
        view = cls.model_validate(ticket)
        view.allowed_statuses = list(allowed_targets(ticket.status))
        return view


class TicketCreate(Input):
    title: Title
    description: Body
    priority: Priority = Priority.MEDIUM
    department: DepartmentRef | None = None
    category: Id | None = Field(default=None, description="Category id.")
    customer_id: Id | None = Field(default=None, description="Staff only: file on behalf of this customer.")
    tags: list[TagName] = Field(default_factory=list, max_length=50)
    attachment_ids: list[Id] = Field(
        default_factory=list, max_length=20, description="Your unsent uploads (POST /attachments)."
    )


class TicketUpdate(Input):
    """PUT and PATCH: send the fields to change. `version` (or If-Match) guards against overwriting
    someone else's change (409)."""

    title: Title | None = None
    description: Body | None = None
    priority: Priority | None = None
    department: DepartmentRef | None = None
    category: Id | None = None
    tags: list[TagName] | None = Field(default=None, max_length=50)
    version: Version | None = None


class StatusChange(Input):
    status: TicketStatus
    reason: str | None = Field(default=None, max_length=2000)
    version: Version | None = None


class ReasonIn(Input):
    reason: str | None = Field(default=None, max_length=2000)


class AssignIn(Input):
    assigned_to: Id


class TransferIn(Input):
    to_agent_id: Id
    note: str | None = Field(default=None, max_length=5000)


class BulkUpdateIn(Input):
    ticket_ids: list[Id] = Field(min_length=1, max_length=500)
    status: TicketStatus | None = None
    priority: Priority | None = None
    assigned_to: Id | None = Field(default=None, description="Agent id; use unassign=true to clear.")
    unassign: bool = False
    department: DepartmentRef | None = None
    add_tags: list[TagName] = Field(default_factory=list, max_length=50)
    remove_tags: list[TagName] = Field(default_factory=list, max_length=50)


class BulkItemResult(Schema):
    ticket_id: int
    ok: bool
    error: dict[str, str] | None = None


class BulkUpdateOut(Schema):
    results: list[BulkItemResult]
    succeeded: int
    failed: int


class CategoryCreate(Input):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)


class CategoryUpdate(Input):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    is_active: bool | None = None


class StatusInfo(Schema):
    value: TicketStatus
    allowed_next: list[TicketStatus]


class PriorityInfo(Schema):
    value: Priority
    rank: int
