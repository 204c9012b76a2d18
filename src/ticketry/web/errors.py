"""Refusals, shown the way a person expects: a form comes back with the reason on top; a page
that cannot be shown says why, with the right status code."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ticketry.core.errors import DomainError
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


def domain_error(request: Request, error: DomainError) -> Response:
    return _refuse(request, error.status, error.message)


def validation_error(request: Request, error: RequestValidationError) -> Response:
    problems = error.errors()
    fields = ", ".join(sorted({str(item.get("loc", ("", ""))[-1]) for item in problems}))
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
