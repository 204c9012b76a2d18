"""Live updates over SSE, and presence for the collision warning.

Events carry ids only ("ticket 12 changed"); the page refetches itself through its normal,
authorised GET, so nothing reaches a browser that its page would not show.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Annotated

import anyio
from fastapi import APIRouter, Form, Query, Request, Response
from sse_starlette.sse import EventSourceResponse

from ticketry.auth import service as auth_service
from ticketry.core.db import Database
from ticketry.core.errors import NotAuthenticated, NotFound
from ticketry.core.schemas import MAX_ID
from ticketry.http.deps import DbSession, PathId
from ticketry.realtime.broker import (
    DESK_CHANNEL,
    Event,
    customer_channel,
    hub,
    ticket_channel,
    user_channel,
)
from ticketry.realtime.models import PresenceState
from ticketry.tickets import presence as presence_service
from ticketry.tickets import service as ticket_service
from ticketry.web.session import MaybeSignedIn, SignedIn
from ticketry.web.templating import render

router = APIRouter(include_in_schema=False)

KEEPALIVE_SECONDS = 15
# How stale the "still signed in?" answer of an open stream may be before an event is sent.
RECHECK_SECONDS = 5.0


@router.get("/events")
def events(
    request: Request,
    session: DbSession,
    who: MaybeSignedIn,
    ticket: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> EventSourceResponse:
    """The stream a page listens to: its audience's list changes, and one ticket's changes if it
    shows one. A customer hears only of their own tickets, and of one ticket only what its page
    shows them (no notes, no agents opening it, nothing desk-wide); the stream ends when the
    session does (sign-out, revocation, expiry)."""
    if who is None:
        raise NotAuthenticated("Sign in to receive live updates.")
    actor = who.actor
    if actor.is_staff:
        # The desk's lists, and watched tickets that changed (docs/product.md §4).
        channels = {DESK_CHANNEL, user_channel(actor.user_id)}
    else:
        channels = {customer_channel(actor.user_id)}
    if ticket is not None:
        ticket_service.get_ticket(session, actor, ticket)  # 404 unless the actor may see it
        channels.add(ticket_channel(ticket, public=not actor.is_staff))
    database: Database = request.app.state.db
    still_allowed = partial(_still_allowed, database, who.secret, ticket)
    return EventSourceResponse(_stream(request, frozenset(channels), still_allowed), ping=KEEPALIVE_SECONDS)


def _still_allowed(database: Database, secret: str, ticket_id: int | None) -> bool:
    """The session still stands, and its user still sees the ticket the stream is about (a
    shared organization made private, an agent moved out of the department: its events stop)."""
    with database.unit_of_work(write=False) as session:
        found = auth_service.web_session_for(session, secret)
        if found is None:
            return False
        if ticket_id is None:
            return True
        try:
            ticket_service.get_ticket(session, found.actor, ticket_id)
        except NotFound:
            return False
        return True


async def _stream(
    request: Request, channels: frozenset[str], still_allowed: Callable[[], bool]
) -> AsyncIterator[dict[str, str]]:
    with hub.subscribe(channels) as subscription:
        yield {"event": "ready", "data": "ok"}
        checked = time.monotonic()
        while not await request.is_disconnected():
            try:
                item: Event | None = await asyncio.wait_for(
                    subscription.queue.get(), timeout=KEEPALIVE_SECONDS
                )
            except TimeoutError:
                item = None
            if item is None or time.monotonic() - checked >= RECHECK_SECONDS:
                if not await anyio.to_thread.run_sync(still_allowed):
                    yield {"event": "signed_out", "data": "ended"}
                    return
                checked = time.monotonic()
            if item is not None:
                yield {"event": item.kind, "data": item.detail or item.channel}


@router.post("/desk/tickets/{ticket_id}/presence")
def presence(
    request: Request,
    session: DbSession,
    who: SignedIn,
    ticket_id: PathId,
    state: Annotated[PresenceState, Form()] = PresenceState.VIEWING,
) -> Response:
    """A heartbeat from an open ticket page; answers with who else is there."""
    others = presence_service.track_presence(session, who.actor, ticket_id, state=state)
    return render(request, "desk/presence.html", {"others": others}, who=who)


@router.post("/desk/tickets/{ticket_id}/leave")
def leave(session: DbSession, who: SignedIn, ticket_id: PathId) -> Response:
    presence_service.leave_ticket(session, who.actor, ticket_id)
    return Response(status_code=204)
