"""`/tickets`: create, list, read, change, and the named lists of SPEC §3."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from ticketry.api.views import EventList, TicketPage, event_views, ticket_page, ticket_view
from ticketry.attachments.intake import staged_batch
from ticketry.auth.actor import Actor
from ticketry.core.errors import ValidationFailed
from ticketry.core.pagination import PageRequest
from ticketry.core.schemas import MAX_ID
from ticketry.http.deps import CurrentActor, DbSession, Paging, PathId, StreamingActor, database
from ticketry.http.openapi import json_or_multipart
from ticketry.http.uploads import in_upload_thread, new_files, receive_body
from ticketry.search import service as search
from ticketry.search.service import Assigned, SortField, TagMode, TicketFilters, TicketSort
from ticketry.tickets import service as ticket_service
from ticketry.tickets.models import Priority, Source, TicketStatus
from ticketry.tickets.schemas import (
    AssignIn,
    BulkItemResult,
    BulkUpdateIn,
    BulkUpdateOut,
    ReasonIn,
    StatusChange,
    TicketCreate,
    TicketCustomerView,
    TicketStaffView,
    TicketUpdate,
    TransferIn,
)
from ticketry.tickets.views import record_view

router = APIRouter(prefix="/tickets", tags=["tickets"])

TicketView = TicketStaffView | TicketCustomerView


def _assigned(value: str | None) -> int | Assigned | None:
    if value is None or value == "":
        return None
    if value.lower() in ("me", "none", "unassigned"):
        return Assigned.ME if value.lower() == "me" else Assigned.NONE
    if value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ID:
        return int(value)
    raise ValidationFailed("assigned_to is an agent id, 'me' or 'none'.", details={"field": "assigned_to"})


def _split(values: list[str] | None) -> list[str]:
    """`?status=open&status=closed` and `?status=open,closed` both work."""
    return [part.strip() for value in values or [] for part in value.split(",") if part.strip()]


E = TypeVar("E", TicketStatus, Priority)


def _enum_list(kind: type[E], values: list[str] | None, field: str) -> list[E]:
    try:
        return [kind(v) for v in _split(values)]
    except ValueError as error:
        allowed = [m.value for m in kind]
        raise ValidationFailed(f"Unknown {field}.", details={"field": field, "allowed": allowed}) from error


@dataclass(frozen=True)
class ListQuery:
    filters: TicketFilters
    sort: TicketSort


def list_query(
    status: Annotated[list[str] | None, Query(description="One or more statuses.")] = None,
    priority: Annotated[list[str] | None, Query()] = None,
    department: Annotated[list[str] | None, Query(description="Department ids or slugs.")] = None,
    category: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    assigned_to: Annotated[str | None, Query(description="An agent id, 'me' or 'none'.")] = None,
    customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    organization_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    source: Source | None = None,
    tag: Annotated[list[str] | None, Query(description="One or more tag names.")] = None,
    tag_mode: Annotated[TagMode, Query(description="Several tags: tickets with all of them, or any.")] = (
        TagMode.ALL
    ),
    watched: Annotated[bool, Query(description="Staff: only tickets you watch.")] = False,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    updated_from: datetime | None = None,
    updated_to: datetime | None = None,
    resolved_from: datetime | None = None,
    resolved_to: datetime | None = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    deleted: Annotated[bool, Query(description="Admins: list deleted tickets instead.")] = False,
    sort: SortField = SortField.CREATED_AT,
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
) -> ListQuery:
    """The list's filters and order from the query string: `GET /tickets` and its exports."""
    filters = TicketFilters(
        statuses=_enum_list(TicketStatus, status, "status"),
        priorities=_enum_list(Priority, priority, "priority"),
        departments=_split(department),
        category_id=category,
        assigned_to=_assigned(assigned_to),
        customer_id=customer_id,
        organization_id=organization_id,
        source=source,
        tags=_split(tag),
        tag_mode=tag_mode,
        watched_by_me=watched,
        created_from=created_from,
        created_to=created_to,
        updated_from=updated_from,
        updated_to=updated_to,
        resolved_from=resolved_from,
        resolved_to=resolved_to,
        q=q,
        deleted=deleted,
    )
    return ListQuery(filters, TicketSort(field=sort, descending=order == "desc"))


ListParams = Annotated[ListQuery, Depends(list_query)]


@router.get("", response_model=TicketPage)
def list_tickets(session: DbSession, actor: CurrentActor, paging: Paging, listed: ListParams) -> TicketPage:
    return _page(session, actor, listed.filters, paging, listed.sort)


def _page(
    session: DbSession,
    actor: Actor,
    filters: TicketFilters,
    paging: PageRequest,
    sort: TicketSort | None = None,
) -> TicketPage:
    page = search.find_tickets(session, actor, filters=filters, sort=sort or TicketSort(), page=paging)
    return ticket_page(actor, page)


@router.get("/my-tickets", response_model=TicketPage)
def my_tickets(session: DbSession, actor: CurrentActor, paging: Paging) -> TicketPage:
    return _page(session, actor, search.my_tickets(actor), paging)


@router.get("/queue", response_model=TicketPage)
def queue(session: DbSession, actor: CurrentActor, paging: Paging) -> TicketPage:
    """Unassigned active tickets in the agent's departments."""
    return _page(session, actor, search.queue(actor), paging)


@router.get("/assigned-to-me", response_model=TicketPage)
def assigned_to_me(session: DbSession, actor: CurrentActor, paging: Paging) -> TicketPage:
    return _page(session, actor, search.assigned_to_me(actor), paging)


_REPEATED_FIELDS = frozenset({"tags", "attachment_ids", "attachmentIds"})


@router.post("", response_model=TicketView, status_code=201, openapi_extra=json_or_multipart(TicketCreate))
async def create_ticket(request: Request, actor: StreamingActor) -> TicketView:
    """JSON, or multipart/form-data with the same fields and the files in parts of their own."""
    return await in_upload_thread(partial(_create_ticket, request, actor))


def _create_ticket(request: Request, actor: Actor) -> TicketView:
    with staged_batch() as staged:
        body = receive_body(request, TicketCreate, staged, repeated=_REPEATED_FIELDS)
        with database(request).unit_of_work() as session:
            ticket = ticket_service.create_ticket(
                session,
                actor,
                title=body.title,
                description=body.description,
                priority=body.priority,
                department=body.department,
                category_id=body.category,
                customer_id=body.customer_id,
                source=Source.API,
                tags=body.tags,
                files=new_files(request, body.attachment_ids, staged),
            )
            return ticket_view(actor, ticket)


@router.post("/bulk-update", response_model=BulkUpdateOut)
def bulk_update(body: BulkUpdateIn, session: DbSession, actor: CurrentActor) -> BulkUpdateOut:
    results = ticket_service.bulk_update(
        session,
        actor,
        body.ticket_ids,
        change=ticket_service.BulkChange(
            status=body.status,
            priority=body.priority,
            assignee_id=body.assigned_to,
            unassign=body.unassign,
            department=body.department,
            add_tags=tuple(body.add_tags),
            remove_tags=tuple(body.remove_tags),
        ),
    )
    items = [
        BulkItemResult(
            ticket_id=r.ticket_id,
            ok=r.ok,
            error={"code": r.error_code or "", "message": r.error_message or ""} if not r.ok else None,
        )
        for r in results
    ]
    succeeded = sum(1 for r in results if r.ok)
    return BulkUpdateOut(results=items, succeeded=succeeded, failed=len(results) - succeeded)


@router.get("/{ticket_id}", response_model=TicketView)
def get_ticket(ticket_id: PathId, session: DbSession, actor: CurrentActor) -> TicketView:
    ticket = ticket_service.get_ticket(session, actor, ticket_id, include_deleted=True)
    record_view(ticket.id)
    return ticket_view(actor, ticket)


def _version(body_version: int | None, if_match: str | None) -> int | None:
    if body_version is not None:
        return body_version
    if if_match:
        tag = if_match.strip().removeprefix("W/").strip('"')
        if not (tag.isascii() and tag.isdigit() and int(tag) <= MAX_ID):
            raise ValidationFailed(
                "If-Match must carry the ticket's version.", details={"header": "If-Match"}
            )
        return int(tag)
    return None


def _edit(
    ticket_id: PathId, body: TicketUpdate, session: DbSession, actor: Actor, if_match: str | None
) -> TicketView:
    provided = body.model_fields_set - {"version"}
    renamed = frozenset("category_id" if name == "category" else name for name in provided)
    edit = ticket_service.TicketEdit(
        provided=renamed,
        title=body.title,
        description=body.description,
        priority=body.priority,
        department=body.department,
        category_id=body.category,
        tags=body.tags or [],
    )
    ticket = ticket_service.update_ticket(
        session, actor, ticket_id, edit=edit, expected_version=_version(body.version, if_match)
    )
    return ticket_view(actor, ticket_service.load_for_view(session, ticket))


@router.patch("/{ticket_id}", response_model=TicketView)
def patch_ticket(
    ticket_id: PathId,
    body: TicketUpdate,
    session: DbSession,
    actor: CurrentActor,
    if_match: Annotated[str | None, Header()] = None,
) -> TicketView:
    return _edit(ticket_id, body, session, actor, if_match)


@router.put("/{ticket_id}", response_model=TicketView)
def put_ticket(
    ticket_id: PathId,
    body: TicketUpdate,
    session: DbSession,
    actor: CurrentActor,
    if_match: Annotated[str | None, Header()] = None,
) -> TicketView:
    """Same fields as PATCH; fields left out are left unchanged."""
    return _edit(ticket_id, body, session, actor, if_match)


@router.delete("/{ticket_id}", status_code=204)
def delete_ticket(ticket_id: PathId, session: DbSession, actor: CurrentActor) -> Response:
    ticket_service.delete_ticket(session, actor, ticket_id)
    return Response(status_code=204)


@router.post("/{ticket_id}/restore", response_model=TicketView)
def restore_ticket(ticket_id: PathId, session: DbSession, actor: CurrentActor) -> TicketView:
    ticket = ticket_service.restore_ticket(session, actor, ticket_id)
    return ticket_view(actor, ticket_service.load_for_view(session, ticket))


@router.put("/{ticket_id}/status", response_model=TicketView)
def change_status(
    ticket_id: PathId,
    body: StatusChange,
    session: DbSession,
    actor: CurrentActor,
    if_match: Annotated[str | None, Header()] = None,
) -> TicketView:
    ticket = ticket_service.change_status(
        session,
        actor,
        ticket_id,
        status=body.status,
        reason=body.reason,
        expected_version=_version(body.version, if_match),
    )
    return ticket_view(actor, ticket_service.load_for_view(session, ticket))


@router.post("/{ticket_id}/assign", response_model=TicketView)
def assign(ticket_id: PathId, body: AssignIn, session: DbSession, actor: CurrentActor) -> TicketView:
    ticket = ticket_service.assign_ticket(session, actor, ticket_id, assignee_id=body.assigned_to)
    return ticket_view(actor, ticket_service.load_for_view(session, ticket))


@router.post("/{ticket_id}/transfer", response_model=TicketView)
def transfer(ticket_id: PathId, body: TransferIn, session: DbSession, actor: CurrentActor) -> TicketView:
    ticket = ticket_service.transfer_ticket(
        session, actor, ticket_id, to_agent_id=body.to_agent_id, note=body.note
    )
    return ticket_view(actor, ticket_service.load_for_view(session, ticket))


@router.post("/{ticket_id}/unassign", response_model=TicketView)
def unassign(ticket_id: PathId, session: DbSession, actor: CurrentActor) -> TicketView:
    ticket = ticket_service.unassign_ticket(session, actor, ticket_id)
    return ticket_view(actor, ticket_service.load_for_view(session, ticket))


@router.post("/{ticket_id}/close", response_model=TicketView)
def close(
    ticket_id: PathId, session: DbSession, actor: CurrentActor, body: ReasonIn | None = None
) -> TicketView:
    ticket = ticket_service.close_ticket(session, actor, ticket_id, reason=body.reason if body else None)
    return ticket_view(actor, ticket_service.load_for_view(session, ticket))


@router.post("/{ticket_id}/reopen", response_model=TicketView)
def reopen(
    ticket_id: PathId, session: DbSession, actor: CurrentActor, body: ReasonIn | None = None
) -> TicketView:
    ticket = ticket_service.reopen_ticket(session, actor, ticket_id, reason=body.reason if body else None)
    return ticket_view(actor, ticket_service.load_for_view(session, ticket))


@router.get("/{ticket_id}/history", response_model=EventList)
def ticket_history(ticket_id: PathId, session: DbSession, actor: CurrentActor) -> EventList:
    return event_views(actor, ticket_service.timeline(session, actor, ticket_id))
