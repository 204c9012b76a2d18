"""Live updates over SSE, and presence for the collision warning.

Events carry ids only ("ticket 12 changed"); the page refetches itself through its normal,
authorised GET, so nothing reaches a browser that its page would not show.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Form, Query, Request, Response
from sse_starlette.sse import EventSourceResponse

from ticketry.core.errors import NotAuthenticated
from ticketry.core.schemas import MAX_ID
from ticketry.http.deps import DbSession, PathId
from ticketry.realtime.broker import hub
from ticketry.realtime.models import PresenceState
from ticketry.tickets import presence as presence_service
from ticketry.tickets import service as ticket_service
from ticketry.web.session import MaybeSignedIn, SignedIn
from ticketry.web.templating import render

router = APIRouter(include_in_schema=False)

KEEPALIVE_SECONDS = 15


@router.get("/events")
def events(
    request: Request,
    session: DbSession,
    who: MaybeSignedIn,
    ticket: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
) -> EventSourceResponse:
    """The stream a page listens to: list changes, and one ticket's changes if it shows one."""
    if who is None:
        raise NotAuthenticated("Sign in to receive live updates.")
    channels = {"tickets"}
    if who.actor.is_staff:
        channels.add(f"user:{who.actor.user_id}")  # watched tickets that changed (SPEC §4)
    if ticket is not None:
        ticket_service.get_ticket(session, who.actor, ticket)  # 404 unless the actor may see it
        channels.add(f"ticket:{ticket}")
    return EventSourceResponse(_stream(request, frozenset(channels)), ping=KEEPALIVE_SECONDS)


async def _stream(request: Request, channels: frozenset[str]) -> AsyncIterator[dict[str, str]]:
    with hub.subscribe(channels) as subscription:
        yield {"event": "ready", "data": "ok"}
        while not await request.is_disconnected():
            try:
                item = await asyncio.wait_for(subscription.queue.get(), timeout=KEEPALIVE_SECONDS)
            except TimeoutError:
                continue
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
