"""Request-scoped dependencies: the unit of work, the Actor, the client's address, paging."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import lru_cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from typing import Annotated

from fastapi import Depends, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ticketry.auth import service as auth_service
from ticketry.auth.actor import Actor
from ticketry.auth.errors import InsufficientScope
from ticketry.auth.models import TokenScope
from ticketry.core.config import get_settings
from ticketry.core.db import Database
from ticketry.core.errors import NotAuthenticated, PermissionDenied
from ticketry.core.pagination import MAX_PAGE, MAX_PAGE_SIZE, PageRequest
from ticketry.core.schemas import MAX_ID

SESSION_COOKIE = "ticketry_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def database(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


async def db_session(request: Request) -> AsyncIterator[Session]:
    """One unit of work per request, committed before the response is sent (scope="function"),
    so a client is never told of a change that then fails to commit.

    An async generator, so opening costs no thread hop (making the Session does no I/O; its
    connection is taken by the first statement, in the route's thread); the commit or rollback
    runs in the thread pool. Each hop costs about 0.16 ms of CPU (docs/architecture.md §4, "The
    request path")."""
    write = request.method not in SAFE_METHODS
    work = database(request).unit_of_work(write=write)
    session = work.__enter__()
    try:
        yield session
    except BaseException as error:
        # unit_of_work rolls back (or keeps a DomainError's changes) and raises the error again.
        await run_in_threadpool(work.__exit__, type(error), error, error.__traceback__)
        raise
    await run_in_threadpool(work.__exit__, None, None, None)


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
    if request.method not in SAFE_METHODS and not secrets.compare_digest(
        csrf.encode(), found.csrf_token.encode()
    ):
        raise PermissionDenied("Missing or wrong CSRF token. Reload the page and try again.")
    return BrowserSession(found.actor, found.csrf_token, cookie)


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
    """The Actor behind the bearer token or the session cookie. A read-only token may only use
    the safe methods; anything else is 403 before any route runs."""
    token = bearer_secret(request)
    if token is not None:
        grant = auth_service.token_grant(session, token)
        if grant is None:
            raise NotAuthenticated("The API token is invalid, expired or revoked.")
        if grant.scope is TokenScope.READ and request.method not in SAFE_METHODS:
            raise InsufficientScope(
                "This API token is read-only: it may only read (GET). Use a token with full access.",
                details={"scope": grant.scope.value, "method": request.method},
            )
        return grant.actor
    found = browser_session(request, session, csrf)
    if found is not None:
        return found.actor
    raise NotAuthenticated("Sign in, or send 'Authorization: Bearer <token>'.")


CurrentActor = Annotated[Actor, Depends(current_actor)]


PathId = Annotated[int, Path(ge=1, le=MAX_ID, description="An id.")]


Network = IPv4Network | IPv6Network


@lru_cache(maxsize=8)
def _networks(setting: str) -> tuple[Network, ...]:
    return tuple(ip_network(part, strict=False) for part in setting.replace(",", " ").split())


def _trusted(host: str, networks: tuple[Network, ...]) -> bool:
    try:
        address: IPv4Address | IPv6Address = ip_address(host.strip().strip("[]"))
    except ValueError:
        return False
    return any(address.version == network.version and address in network for network in networks)


def client_ip(request: Request) -> str:
    """The client's address: the one place every rate limit and the session list read it from.

    The direct peer, unless it is one of `TICKETRY_TRUSTED_PROXIES`: then `X-Forwarded-For` is
    read from the right, skipping the trusted proxies, and the first address that is not one is
    the client (anything left of it was written by the client and proves nothing). By default
    no proxy is trusted and the header is ignored, so nobody can pick their own address."""
    peer = request.client.host if request.client else "unknown"
    networks = _networks(get_settings().trusted_proxies)
    if not networks or not _trusted(peer, networks):
        return peer[:64]
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop[:64]
    return (hops[0] if hops else peer)[:64]


async def page_request(  # async: no I/O, so no thread hop
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, alias="page_size")] = 25,
) -> PageRequest:
    return PageRequest(page=page, page_size=page_size)


Paging = Annotated[PageRequest, Depends(page_request)]
