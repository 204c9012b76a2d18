"""Tags in the browser: on a ticket (`/desk/tickets/{id}/tags`), their colours as a stylesheet
(the CSP allows no inline styles), and the admin page `/admin/tags` (rename, recolour, merge,
delete, counts). The rules live in `tickets.tags` and `tickets.service`."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from ticketry.http.deps import DbSession, PathId
from ticketry.sitesettings import service as site_settings
from ticketry.tickets import service as ticket_service
from ticketry.tickets import tags as tag_service
from ticketry.web.session import SignedIn
from ticketry.web.templating import render, set_flash

router = APIRouter(include_in_schema=False)

TagName = Annotated[str, Form(min_length=1, max_length=50)]
Color = Annotated[str, Form(pattern=r"^#[0-9a-fA-F]{6}$")]


def _to(target: str, text: str) -> Response:
    response = RedirectResponse(target, status_code=303)
    set_flash(response, text)
    return response


@router.post("/desk/tickets/{ticket_id}/tags")
def add(session: DbSession, who: SignedIn, ticket_id: PathId, name: TagName) -> Response:
    ticket_service.add_tag(session, who.actor, ticket_id, name)
    return _to(f"/desk/tickets/{ticket_id}#tags", f"Tag “{tag_service.clean_name(name)}” added.")


@router.post("/desk/tickets/{ticket_id}/tags/remove")
def remove(session: DbSession, who: SignedIn, ticket_id: PathId, name: TagName) -> Response:
    ticket_service.remove_tag(session, who.actor, ticket_id, name)
    return _to(f"/desk/tickets/{ticket_id}#tags", f"Tag “{tag_service.clean_name(name)}” removed.")


@router.get("/desk/tags.css")
def colours(request: Request, session: DbSession, who: SignedIn) -> Response:
    """`.tag[data-tag="7"]` in its colour, for every tag (colours are #rrggbb, checked on save)."""
    if not who.actor.is_staff:
        return Response("", media_type="text/css")
    css = "".join(
        f'.tag[data-tag="{t.id}"]{{border-left:4px solid {t.color};}}' for t in tag_service.all_tags(session)
    )
    etag = '"' + hashlib.sha256(css.encode()).hexdigest()[:16] + '"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(css, media_type="text/css", headers=headers)


@router.get("/admin/tags")
def admin_tags(
    request: Request, session: DbSession, who: SignedIn, sort: Literal["name", "count"] = "name"
) -> Response:
    context = {
        "tags": tag_service.manage_tags(session, who.actor, sort=sort),
        "sort": sort,
        "section": "tags",
        "settings_agents_create": site_settings.current(session).agents_create_tags,
    }
    return render(request, "admin/tags.html", context, who=who)


@router.post("/admin/tags")
def create(session: DbSession, who: SignedIn, name: TagName, color: Color = "#6b7280") -> Response:
    tag = tag_service.create_tag(session, who.actor, name=name, color=color)
    return _to("/admin/tags", f"Tag “{tag.name}” added.")


@router.post("/admin/tags/{tag_id}")
def update(session: DbSession, who: SignedIn, tag_id: PathId, name: TagName, color: Color) -> Response:
    tag = tag_service.update_tag(session, who.actor, tag_id, name=name, color=color)
    return _to("/admin/tags", f"Tag “{tag.name}” saved.")


@router.post("/admin/tags/{tag_id}/merge")
def merge(
    session: DbSession, who: SignedIn, tag_id: PathId, into: Annotated[int, Form(ge=1, le=2**31 - 1)]
) -> Response:
    name = tag_service.get_tag(session, who.actor, tag_id).name
    target = tag_service.merge_tag(session, who.actor, tag_id, into_id=into)
    return _to("/admin/tags", f"Tag “{name}” merged into “{target.name}”.")


@router.post("/admin/tags/{tag_id}/delete")
def delete(session: DbSession, who: SignedIn, tag_id: PathId) -> Response:
    name = tag_service.get_tag(session, who.actor, tag_id).name
    tag_service.delete_tag(session, who.actor, tag_id)
    return _to("/admin/tags", f"Tag “{name}” deleted.")
