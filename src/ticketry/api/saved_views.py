"""`/views`: saved desk filters, personal or shared, with counts and their tickets (docs/product.md §3)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from ticketry.api.views import TicketPage, ticket_page
from ticketry.core.pagination import ListPage
from ticketry.http.deps import CurrentActor, DbSession, Paging, PathId
from ticketry.search import service as search
from ticketry.search import views as saved_views
from ticketry.search.schemas import SavedViewCreate, SavedViewUpdate, SavedViewView

router = APIRouter(prefix="/views", tags=["saved views"])


@router.get("", response_model=ListPage[SavedViewView])
def list_views(
    session: DbSession,
    actor: CurrentActor,
    counts: Annotated[bool, Query(description="Count each view's tickets (as you see them).")] = True,
) -> ListPage[SavedViewView]:
    """Your views and the shared ones, shared first."""
    views = saved_views.list_views(session, actor)
    if not counts:
        return ListPage[SavedViewView].of([SavedViewView.of(actor, view) for view in views])
    counted = saved_views.count_views(session, actor, views)
    return ListPage[SavedViewView].of([SavedViewView.of(actor, c.view, c) for c in counted])


@router.post("", response_model=SavedViewView, status_code=201)
def create_view(body: SavedViewCreate, session: DbSession, actor: CurrentActor) -> SavedViewView:
    view = saved_views.create_view(session, actor, name=body.name, query=body.query, shared=body.shared)
    return SavedViewView.of(actor, view)


@router.get("/{view_id}", response_model=SavedViewView)
def get_view(view_id: PathId, session: DbSession, actor: CurrentActor) -> SavedViewView:
    view = saved_views.get_view(session, actor, view_id)
    [counted] = saved_views.count_views(session, actor, [view])
    return SavedViewView.of(actor, view, counted)


@router.patch("/{view_id}", response_model=SavedViewView)
def update_view(
    view_id: PathId, body: SavedViewUpdate, session: DbSession, actor: CurrentActor
) -> SavedViewView:
    view = saved_views.update_view(
        session,
        actor,
        view_id,
        name=body.name,
        query=body.query,
        shared=body.shared,
        position=body.position,
    )
    return SavedViewView.of(actor, view)


@router.delete("/{view_id}", status_code=204)
def delete_view(view_id: PathId, session: DbSession, actor: CurrentActor) -> Response:
    saved_views.delete_view(session, actor, view_id)
    return Response(status_code=204)


@router.get("/{view_id}/tickets", response_model=TicketPage)
def view_tickets(view_id: PathId, session: DbSession, actor: CurrentActor, paging: Paging) -> TicketPage:
    """The view's tickets as you see them, in its sort order: the same answer as `GET /tickets`."""
    read = saved_views.read_view(actor, saved_views.get_view(session, actor, view_id))
    page = search.find_tickets(session, actor, filters=read.filters, sort=read.sort, page=paging)
    return ticket_page(actor, page)
