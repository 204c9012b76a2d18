"""Request-scoped dependencies: the unit of work, the Actor, paging."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from sqlalchemy.orm import Session

from ticketry.auth import service as auth_service
from ticketry.auth.actor import Actor
from ticketry.core.db import Database
from ticketry.core.errors import NotAuthenticated, PermissionDenied
from ticketry.core.pagination import MAX_PAGE_SIZE, PageRequest
from ticketry.core.schemas import MAX_ID

SESSION_COOKIE = "ticketry_session"
CSRF_HEADER = "x-csrf-token"
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


def current_actor(request: Request, session: DbSession) -> Actor:
    token = bearer_secret(request)
    if token is not None:
        user = auth_service.user_for_token(session, token)
        if user is None:
            raise NotAuthenticated("The API token is invalid, expired or revoked.")
        return auth_service.actor_for(session, user)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found = auth_service.web_session_for(session, cookie)
        if found is not None:
            user, web_session = found
            if request.method not in SAFE_METHODS:
                sent = request.headers.get(CSRF_HEADER, "")
                if not secrets.compare_digest(sent.encode(), web_session.csrf_token.encode()):
                    raise PermissionDenied("Missing or wrong CSRF token.", details={"header": CSRF_HEADER})
            return auth_service.actor_for(session, user)
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
