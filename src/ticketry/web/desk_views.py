"""Saved views in the desk: save the current filter, open it from the sidebar, keep it current,
and `/desk/views` to rename, reorder, share and delete. The rules live in `search.views`."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from ticketry.auth.permissions import Permission
from ticketry.http.deps import DbSession, PathId
from ticketry.search import service as search
from ticketry.search import views as saved_views
from ticketry.search.query import MAX_QUERY_LENGTH
from ticketry.search.views import MAX_NAME_LENGTH
from ticketry.web.session import SignedIn
from ticketry.web.templating import render, set_flash

router = APIRouter(prefix="/desk/views", include_in_schema=False)

Name = Annotated[str, Form(min_length=1, max_length=MAX_NAME_LENGTH)]
Query = Annotated[str, Form(max_length=MAX_QUERY_LENGTH)]


def open_url(view_id: int, query: str) -> str:
    """The desk list showing a saved view (its filter, plus which view it is for the title)."""
    return f"/desk?{query}&{urlencode({'saved': view_id})}" if query else f"/desk?saved={view_id}"


def _to(url: str, text: str, kind: str = "success") -> Response:
    response = RedirectResponse(url, status_code=303)
    set_flash(response, text, kind=kind)
    return response


@router.get("")
def manage(request: Request, session: DbSession, who: SignedIn) -> Response:
    if not who.actor.is_staff:
        return RedirectResponse("/", status_code=303)
    views = saved_views.count_views(session, who.actor, saved_views.list_views(session, who.actor))
    context = {
        "saved": views,
        "may_share": who.actor.can(Permission.ADMIN_VIEWS),
        "open_url": open_url,
    }
    return render(request, "desk/views.html", context, who=who)


@router.get("/counts")
def counts(request: Request, session: DbSession, who: SignedIn, saved: int | None = None) -> Response:
    """The sidebar's counts: the saved views with theirs, and the built-in views' (the desk list
    fetches this after it loads)."""
    if not who.actor.is_staff:
        return Response(status_code=403)
    views = saved_views.sidebar(session, who.actor, counted=True)
    current = next((c.view for c in views if c.view.id == saved), None)
    context = {
        "saved": views,
        "views_counted": True,
        "current_view": current,
        "counts": search.view_counts(session, who.actor),
    }
    return render(request, "desk/_sidebar_counts.html", context, who=who)


@router.post("")
def save(
    session: DbSession, who: SignedIn, name: Name, query: Query = "", shared: Annotated[bool, Form()] = False
) -> Response:
    view = saved_views.create_view(session, who.actor, name=name, query=query, shared=shared)
    return _to(open_url(view.id, view.query), f"View “{view.name}” saved.")


@router.post("/{view_id}/query")
def update_query(session: DbSession, who: SignedIn, view_id: PathId, query: Query = "") -> Response:
    """Keep the view, with the filter now on screen."""
    view = saved_views.update_view(session, who.actor, view_id, query=query)
    return _to(open_url(view.id, view.query), f"View “{view.name}” updated.")


@router.post("/{view_id}/rename")
def rename(session: DbSession, who: SignedIn, view_id: PathId, name: Name) -> Response:
    view = saved_views.update_view(session, who.actor, view_id, name=name)
    return _to("/desk/views", f"Renamed to “{view.name}”.")


@router.post("/{view_id}/share")
def share(session: DbSession, who: SignedIn, view_id: PathId, shared: Annotated[bool, Form()]) -> Response:
    view = saved_views.update_view(session, who.actor, view_id, shared=shared)
    text = "is now shared with the team" if view.is_shared else "is now yours only"
    return _to("/desk/views", f"“{view.name}” {text}.")


@router.post("/{view_id}/move")
def move(
    session: DbSession, who: SignedIn, view_id: PathId, direction: Annotated[str, Form(pattern="^(up|down)$")]
) -> Response:
    saved_views.move_view(session, who.actor, view_id, up=direction == "up")
    return RedirectResponse("/desk/views", status_code=303)


@router.post("/{view_id}/delete")
def delete(session: DbSession, who: SignedIn, view_id: PathId) -> Response:
    name = saved_views.get_view(session, who.actor, view_id).name
    saved_views.delete_view(session, who.actor, view_id)
    return _to("/desk/views", f"View “{name}” deleted.")
