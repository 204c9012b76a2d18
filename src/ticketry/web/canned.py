"""`/desk/canned`: the agent's canned replies, personal and shared: list, sort, filter, create,
edit, delete. The composer's picker uses the JSON API (`/api/v1/canned-replies`) from
`static/canned.js`; the rules live in `canned.service`, so refusals come from there."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import RedirectResponse

from ticketry.auth.permissions import Permission
from ticketry.canned import service as canned_service
from ticketry.canned.render import VARIABLES
from ticketry.canned.schemas import MAX_BODY, MAX_CATEGORY, MAX_TITLE, CannedReplyView, CannedSort, Scope
from ticketry.core.pagination import PageRequest
from ticketry.http.deps import BrowserSession, DbSession, PathId
from ticketry.web.session import SignedIn
from ticketry.web.templating import render, set_flash

router = APIRouter(prefix="/desk/canned", include_in_schema=False)

SORT_LABELS = {
    CannedSort.TITLE: "Title",
    CannedSort.USAGE: "Most used",
    CannedSort.LAST_USED: "Last used",
    CannedSort.CATEGORY: "Category",
}
SCOPE_LABELS = {Scope.ALL: "All", Scope.PERSONAL: "Mine", Scope.SHARED: "Shared"}

Title = Annotated[str, Form(min_length=1, max_length=MAX_TITLE)]
Body = Annotated[str, Form(min_length=1, max_length=MAX_BODY)]
Category = Annotated[str, Form(max_length=MAX_CATEGORY)]
# Who sees a reply; only admins are offered the choice (`personal` or `shared`).
Visibility = Annotated[Scope | None, Form()]


def _staff_only(who: BrowserSession) -> Response | None:
    return None if who.actor.is_staff else RedirectResponse("/", status_code=303)


def _context(session: DbSession, who: BrowserSession) -> dict[str, object]:
    return {
        "categories": canned_service.list_categories(session, who.actor),
        "variables": VARIABLES,
        "may_share": who.actor.can(Permission.ADMIN_CANNED),
    }


@router.get("")
def canned_list(
    request: Request,
    session: DbSession,
    who: SignedIn,
    q: Annotated[str, Query(max_length=200)] = "",
    category: Annotated[str, Query(max_length=MAX_CATEGORY)] = "",
    scope: Scope = Scope.ALL,
    sort: CannedSort = CannedSort.USAGE,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    if (away := _staff_only(who)) is not None:
        return away
    found = canned_service.list_replies(
        session,
        who.actor,
        q=q,
        category=category,
        scope=scope,
        sort=sort,
        page=PageRequest(page=page, page_size=50),
    )
    context = {
        **_context(session, who),
        "page": found,
        "replies": [CannedReplyView.of(reply, who.actor) for reply in found.items],
        "params": request.query_params,
        "q": q,
        "category": category,
        "scope": scope,
        "sort": sort,
        "sorts": SORT_LABELS,
        "scopes": SCOPE_LABELS,
        "filtered": bool(q or category or scope is not Scope.ALL),
    }
    return render(request, "desk/canned.html", context, who=who)


def _saved(reply_view: CannedReplyView, verb: str) -> Response:
    response = RedirectResponse(f"/desk/canned/{reply_view.id}", status_code=303)
    unknown = reply_view.unknown_variables
    if unknown:
        names = ", ".join(unknown[:5])
        set_flash(
            response,
            f"{verb}, but with unknown variables that will render as nothing: {names}.",
            kind="error",
        )
    else:
        set_flash(response, f"{verb}.")
    return response


@router.post("")
def create(
    session: DbSession,
    who: SignedIn,
    title: Title,
    body: Body,
    category: Category = "",
    visibility: Visibility = None,
) -> Response:
    shared = visibility is Scope.SHARED
    reply = canned_service.create_reply(
        session, who.actor, title=title, body=body, category=category, shared=shared
    )
    return _saved(CannedReplyView.of(reply, who.actor), "Canned reply saved")


@router.get("/{reply_id}")
def edit_page(request: Request, session: DbSession, who: SignedIn, reply_id: PathId) -> Response:
    if (away := _staff_only(who)) is not None:
        return away
    reply = CannedReplyView.of(canned_service.get_reply(session, who.actor, reply_id), who.actor)
    return render(request, "desk/canned_edit.html", {**_context(session, who), "reply": reply}, who=who)


@router.post("/{reply_id}")
def update(
    session: DbSession,
    who: SignedIn,
    reply_id: PathId,
    title: Title,
    body: Body,
    category: Category = "",
    visibility: Visibility = None,
) -> Response:
    shared = None if visibility is None else visibility is Scope.SHARED
    reply = canned_service.update_reply(
        session, who.actor, reply_id, title=title, body=body, category=category, shared=shared
    )
    return _saved(CannedReplyView.of(reply, who.actor), "Canned reply updated")


@router.post("/{reply_id}/delete")
def delete(session: DbSession, who: SignedIn, reply_id: PathId) -> Response:
    canned_service.delete_reply(session, who.actor, reply_id)
    response = RedirectResponse("/desk/canned", status_code=303)
    set_flash(response, "Canned reply deleted.")
    return response
