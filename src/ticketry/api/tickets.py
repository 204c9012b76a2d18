"""`/tickets`: create, list, read, change, and the named lists of docs/product.md §3."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from ticketry.api.list_query import ListParams, documented
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
from ticketry.search.service import TicketFilters, TicketSort
from ticketry.tickets import service as ticket_service
from ticketry.tickets.models import Source
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


@router.get("", response_model=TicketPage, openapi_extra=documented(paged=True))
def list_tickets(session: DbSession, actor: CurrentActor, listed: ListParams) -> TicketPage:
    """The tickets you may see that match the filters, a page at a time. Saved views and the
    desk read the same parameters."""
    return _page(session, actor, listed.filters, listed.page, listed.sort)


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
    record_view(ticket.id, viewer_id=actor.user_id)
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
