"""`/canned-replies`: saved answers for agents, personal or shared, rendered for a ticket."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from ticketry.canned import service as canned_service
from ticketry.canned.render import VARIABLES
from ticketry.canned.schemas import (
    CannedReplyCreate,
    CannedReplyPage,
    CannedReplyUpdate,
    CannedReplyView,
    CannedSort,
    CategoryCount,
    RenderedReply,
    RenderIn,
    Scope,
    VariableInfo,
)
from ticketry.core.pagination import ListPage, pagination_view
from ticketry.http.deps import CurrentActor, DbSession, Paging, PathId

router = APIRouter(prefix="/canned-replies", tags=["canned replies"])


@router.get("", response_model=CannedReplyPage)
def list_replies(
    session: DbSession,
    actor: CurrentActor,
    paging: Paging,
    q: Annotated[str | None, Query(max_length=200, description="Words in the title or body.")] = None,
    category: Annotated[str | None, Query(max_length=100)] = None,
    scope: Scope = Scope.ALL,
    sort: CannedSort = CannedSort.TITLE,
    order: Annotated[
        str | None, Query(pattern="^(asc|desc)$", description="Default: desc for usage and last_used.")
    ] = None,
) -> CannedReplyPage:
    page = canned_service.list_replies(
        session,
        actor,
        q=q,
        category=category,
        scope=scope,
        sort=sort,
        descending=None if order is None else order == "desc",
        page=paging,
    )
    return CannedReplyPage(
        data=[CannedReplyView.of(reply, actor) for reply in page.items], pagination=pagination_view(page)
    )


@router.post("", response_model=CannedReplyView, status_code=201)
def create_reply(body: CannedReplyCreate, session: DbSession, actor: CurrentActor) -> CannedReplyView:
    """Saved even with unknown variables; `unknownVariables` lists them (they render as nothing)."""
    reply = canned_service.create_reply(
        session, actor, title=body.title, body=body.body, category=body.category, shared=body.shared
    )
    return CannedReplyView.of(reply, actor)


@router.get("/categories", response_model=ListPage[CategoryCount])
def list_categories(session: DbSession, actor: CurrentActor) -> ListPage[CategoryCount]:
    tallies = canned_service.list_categories(session, actor)
    return ListPage[CategoryCount].of([CategoryCount(name=t.name, count=t.count) for t in tallies])


@router.get("/variables", response_model=ListPage[VariableInfo])
def list_variables(actor: CurrentActor) -> ListPage[VariableInfo]:
    """The allow-list: the only placeholders a canned reply may use."""
    canned_service.require_use(actor)
    return ListPage[VariableInfo].of(
        [VariableInfo(name=n, placeholder=f"{{{{{n}}}}}", description=d) for n, d in VARIABLES.items()]
    )


@router.get("/{reply_id}", response_model=CannedReplyView)
def get_reply(reply_id: PathId, session: DbSession, actor: CurrentActor) -> CannedReplyView:
    return CannedReplyView.of(canned_service.get_reply(session, actor, reply_id), actor)


@router.patch("/{reply_id}", response_model=CannedReplyView)
def update_reply(
    reply_id: PathId, body: CannedReplyUpdate, session: DbSession, actor: CurrentActor
) -> CannedReplyView:
    given = body.model_fields_set
    reply = canned_service.update_reply(
        session,
        actor,
        reply_id,
        title=body.title,
        body=body.body,
        category=body.category if "category" in given else canned_service.UNSET,
        shared=body.shared,
    )
    return CannedReplyView.of(reply, actor)


@router.delete("/{reply_id}", status_code=204)
def delete_reply(reply_id: PathId, session: DbSession, actor: CurrentActor) -> Response:
    canned_service.delete_reply(session, actor, reply_id)
    return Response(status_code=204)


def _rendered(result: canned_service.RenderResult) -> RenderedReply:
    return RenderedReply(
        id=result.reply.id,
        ticket_id=result.ticket_id,
        text=result.rendered.text,
        unknown_variables=list(result.rendered.unknown),
        usage_count=result.reply.usage_count,
        last_used_at=result.reply.last_used_at,
    )


@router.post("/{reply_id}/render", response_model=RenderedReply)
def render_reply(reply_id: PathId, body: RenderIn, session: DbSession, actor: CurrentActor) -> RenderedReply:
    """Use the reply on a ticket: its text for that ticket, and one more use counted."""
    result = canned_service.render_reply(session, actor, reply_id, ticket_id=body.ticket_id, count=True)
    return _rendered(result)


@router.post("/{reply_id}/preview", response_model=RenderedReply)
def preview_reply(reply_id: PathId, body: RenderIn, session: DbSession, actor: CurrentActor) -> RenderedReply:
    """The same text `render` gives, without counting a use."""
    result = canned_service.render_reply(session, actor, reply_id, ticket_id=body.ticket_id, count=False)
    return _rendered(result)
