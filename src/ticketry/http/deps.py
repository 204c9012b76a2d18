"""Request-scoped dependencies: the unit of work, the Actor, paging."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from ticketry.auth import service as auth_service
from ticketry.auth.actor import Actor
from ticketry.core.db import Database
from ticketry.core.errors import NotAuthenticated, PermissionDenied
from ticketry.core.pagination import MAX_PAGE_SIZE, PageRequest
from ticketry.core.schemas import MAX_ID

SESSION_COOKIE = "ticketry_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


def db_session(request: Request) -> Iterator[Session]:
    """One unit of work per request, committed before the response is sent (scope="function"),
    so a client is never told of a change that then fails to commit."""
    write = request.method not in SAFE_METHODS
    with database(request).unit_of_work(write=write) as session:
        yield session


DbSession = Annotated[Session, Depends(db_session, scope="function")]


def bearer_secret(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def credential_secret(request: Request) -> str | None:
    """The secret this request authenticates with: a bearer token, or the session cookie."""
    return bearer_secret(request) or request.cookies.get(SESSION_COOKIE)


async def sent_csrf(request: Request) -> str:
    """The CSRF token an unsafe request carries: the header (htmx, scripts) or the form field."""
    if request.method in SAFE_METHODS:
        return ""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


@dataclass(frozen=True)
class BrowserSession:
    """A signed-in browser: who, and the CSRF token its pages must send back."""

    actor: Actor
    csrf_token: str
    secret: str


def browser_session(request: Request, session: Session, csrf: str) -> BrowserSession | None:
    """The session behind the cookie, if any; unsafe requests must carry its CSRF token."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    found = auth_service.web_session_for(session, cookie)
    if found is None:
        return None
    user, web_session = found
    if request.method not in SAFE_METHODS and not secrets.compare_digest(
        csrf.encode(), web_session.csrf_token.encode()
    ):
        raise PermissionDenied("Missing or wrong CSRF token. Reload the page and try again.")
    return BrowserSession(auth_service.actor_for(session, user), web_session.csrf_token, cookie)


# Declares the bearer scheme in OpenAPI (the docs' "Authorize" button); parsing stays ours.
_bearer_scheme = HTTPBearer(
    auto_error=False, description="A personal API token from POST /api/v1/auth/login."
)


def current_actor(
    request: Request,
    session: DbSession,
    csrf: Annotated[str, Depends(sent_csrf)],
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)] = None,
) -> Actor:
    return authenticate(request, session, csrf)


def streaming_actor(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer_scheme)] = None,
) -> Actor:
    """For routes that stream their body (uploads): authenticated in a short read of its own,
    so no transaction is open while the bytes arrive, and the body is left unread (browsers
    send the CSRF token in the header)."""
    with database(request).unit_of_work(write=False) as session:
        return authenticate(request, session, request.headers.get(CSRF_HEADER, ""))


StreamingActor = Annotated[Actor, Depends(streaming_actor)]


def authenticate(request: Request, session: Session, csrf: str) -> Actor:
    token = bearer_secret(request)
    if token is not None:
        user = auth_service.user_for_token(session, token)
        if user is None:
            raise NotAuthenticated("The API token is invalid, expired or revoked.")
        return auth_service.actor_for(session, user)
    found = browser_session(request, session, csrf)
    if found is not None:
        return found.actor
    raise NotAuthenticated("Sign in, or send 'Authorization: Bearer <token>'.")


CurrentActor = Annotated[Actor, Depends(current_actor)]


PathId = Annotated[int, Path(ge=1, le=MAX_ID, description="An id.")]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def page_request(
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, alias="page_size")] = 25,
) -> PageRequest:
    return PageRequest(page=page, page_size=page_size)


Paging = Annotated[PageRequest, Depends(page_request)]
