"""Refusals, shown the way a person expects: a form comes back with the reason on top; a page
that cannot be shown says why, with the right status code."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ticketry.auth.permissions import Permission
from ticketry.core.errors import DomainError, PermissionDenied
from ticketry.core.schemas import CONTROL_CHARACTER_ERROR
from ticketry.http.deps import BrowserSession, browser_session, database
from ticketry.web.session import LoginRequired, login_url, safe_next
from ticketry.web.templating import render, set_flash

TITLES = {
    401: "Please sign in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "Conflict",
    422: "Check your input",
    429: "Slow down",
}


def is_page(request: Request) -> bool:
    """Browser pages get HTML errors; the API and its documents keep the JSON envelope."""
    path = request.url.path
    return not (path.startswith("/api/") or path == "/openapi.json")


def _back(request: Request) -> str:
    """Where the form came from (same origin only), so the user sees it again with the reason."""
    referer = request.headers.get("referer", "")
    parts = urlsplit(referer)
    if parts.netloc and parts.netloc != request.url.netloc:
        return "/"
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return safe_next(path, "/")


def _who(request: Request) -> BrowserSession | None:
    """The signed-in user, so an error page keeps its navigation (reads only; never raises)."""
    try:
        with database(request).unit_of_work(write=False) as session:
            return browser_session(request, session, "")
    except Exception:  # an error page must render even when the database is what failed
        return None


def _refuse(request: Request, status: int, message: str) -> Response:
    if request.method in ("GET", "HEAD"):
        context = {"status": status, "title": TITLES.get(status, "Something went wrong"), "message": message}
        return render(request, "error.html", context, who=_who(request), status=status)
    response = RedirectResponse(_back(request), status_code=303)
    set_flash(response, message, kind="error")
    return response


# What a permission lets one do, in the words of someone refused it (the names are internal).
ABILITIES = {
    Permission.TICKETS_VIEW: "see tickets",
    Permission.TICKETS_VIEW_ALL: "see every ticket",
    Permission.TICKETS_VIEW_INTERNAL: "see the team's side of tickets",
    Permission.TICKETS_CREATE: "open tickets",
    Permission.TICKETS_CREATE_FOR_OTHERS: "open tickets for others",
    Permission.TICKETS_UPDATE: "change tickets",
    Permission.TICKETS_REPLY: "reply to tickets",
    Permission.TICKETS_NOTE: "write internal notes",
    Permission.TICKETS_STATUS: "change a ticket's status",
    Permission.TICKETS_ASSIGN: "assign tickets",
    Permission.TICKETS_TRANSFER: "transfer tickets",
    Permission.TICKETS_CLOSE: "close tickets",
    Permission.TICKETS_DELETE: "delete or restore tickets",
    Permission.TICKETS_BULK: "update tickets in bulk",
    Permission.TICKETS_MERGE: "merge or split tickets",
    Permission.TICKETS_LINK: "link tickets",
    Permission.TICKETS_EXPORT: "export tickets",
    Permission.TICKETS_WATCH: "watch tickets",
    Permission.TICKETS_WATCHERS: "choose who watches a ticket",
    Permission.MESSAGES_EDIT_ANY: "edit other people's messages",
    Permission.CANNED_USE: "use canned replies",
    Permission.STATS_VIEW: "see statistics",
    Permission.ADMIN_USERS: "manage users",
    Permission.ADMIN_DIRECTORY: "manage organizations, departments and categories",
    Permission.ADMIN_JOBS: "manage background jobs",
    Permission.ADMIN_SETTINGS: "change the desk's settings",
    Permission.ADMIN_DASHBOARD: "see the admin dashboard",
    Permission.ADMIN_MAIL: "manage mailboxes and mail",
    Permission.ADMIN_TAGS: "manage tags",
    Permission.ADMIN_CANNED: "manage shared canned replies",
    Permission.ADMIN_VIEWS: "manage shared views",
}


def _in_words(error: DomainError) -> str:
    """A refusal that names an internal permission (`auth.require`) says instead what may not
    be done; the API keeps the name, in `details`, for programs."""
    name = error.details.get("permission") if isinstance(error, PermissionDenied) else None
    if not isinstance(name, str) or name not in error.message:
        return error.message
    try:
        ability = ABILITIES.get(Permission(name), "do this")
    except ValueError:
        ability = "do this"
    return f"You are not allowed to {ability}. Ask an admin if you need to."


def domain_error(request: Request, error: DomainError) -> Response:
    return _refuse(request, error.status, _in_words(error))


def _field_name(loc: Any) -> str:
    """The field a problem is about: `("body", "status", "literal['']")` (a union's branch) and
    `("body", "ticket_ids", 3)` (a list's item) are the fields `status` and `ticket_ids`."""
    parts = tuple(loc) if isinstance(loc, (tuple, list)) else (loc,)
    return str(parts[1] if len(parts) > 1 else parts[0] if parts else "")


def validation_error(request: Request, error: RequestValidationError) -> Response:
    problems = error.errors()
    fields = ", ".join(sorted({_field_name(item.get("loc", ())) for item in problems}))
    if any(item.get("type") == CONTROL_CHARACTER_ERROR for item in problems):
        return _refuse(request, 422, f"Please check: {fields} (control characters are not allowed).")
    return _refuse(request, 422, f"Please check: {fields}.")


def http_error(request: Request, error: StarletteHTTPException) -> Response:
    message = {404: "There is nothing here. The link may be wrong or the ticket gone."}.get(
        error.status_code, str(error.detail)
    )
    return _refuse(request, error.status_code, message)


def login_required(request: Request, error: LoginRequired) -> Response:
    return RedirectResponse(login_url(error.next_path), status_code=303)
