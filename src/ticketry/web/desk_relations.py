"""Desk forms for watchers, participants and links on a ticket's sidebar (issue 6 parts 3 and 6,
issue 12: people whose mail joins the conversation).

Each posts, calls one use case and goes back to the ticket with a flash; refusals come back
as the usual error page (404 for a ticket one cannot see, 403 without the permission).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Response
from fastapi.responses import RedirectResponse

from ticketry.core.errors import NotFound
from ticketry.core.schemas import Email
from ticketry.http.deps import DbSession, PathId
from ticketry.tickets import links as link_service
from ticketry.tickets import participants as participant_service
from ticketry.tickets import service as ticket_service
from ticketry.tickets import watchers as watcher_service
from ticketry.tickets.links import LinkAs
from ticketry.web.session import SignedIn
from ticketry.web.templating import set_flash

router = APIRouter(prefix="/desk/tickets", include_in_schema=False)


def _back(ticket_id: int, text: str, *, kind: str = "success") -> Response:
    response = RedirectResponse(f"/desk/tickets/{ticket_id}", status_code=303)
    set_flash(response, text, kind=kind)
    return response


@router.post("/{ticket_id}/watch")
def toggle_watch(
    session: DbSession,
    who: SignedIn,
    ticket_id: PathId,
    watching: Annotated[bool, Form(description="true to watch, false to stop")] = True,
) -> Response:
    if watching:
        watcher_service.watch(session, who.actor, ticket_id)
        return _back(ticket_id, "You are watching this ticket.")
    watcher_service.unwatch(session, who.actor, ticket_id)
    try:
        ticket_service.get_ticket(session, who.actor, ticket_id, include_deleted=True)
    except NotFound:  # watching was what let them see it
        response = RedirectResponse("/desk", status_code=303)
        set_flash(response, "You stopped watching the ticket; it is outside your departments.")
        return response
    return _back(ticket_id, "You stopped watching this ticket.")


@router.post("/{ticket_id}/watchers")
def add_watcher(
    session: DbSession,
    who: SignedIn,
    ticket_id: PathId,
    user_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
) -> Response:
    watcher_service.add_watcher(session, who.actor, ticket_id, user_id)
    return _back(ticket_id, "Watcher added.")


@router.post("/{ticket_id}/watchers/{user_id}/remove")
def remove_watcher(session: DbSession, who: SignedIn, ticket_id: PathId, user_id: PathId) -> Response:
    watcher_service.remove_watcher(session, who.actor, ticket_id, user_id)
    return _back(ticket_id, "Watcher removed.")


@router.post("/{ticket_id}/links")
def add_link(
    session: DbSession,
    who: SignedIn,
    ticket_id: PathId,
    other: Annotated[str, Form(min_length=1, max_length=40)],
    kind: Annotated[LinkAs, Form()] = LinkAs.RELATED,
) -> Response:
    other_id = link_service.find_ticket(session, who.actor, other)
    linked = link_service.link(session, who.actor, ticket_id, other_id=other_id, kind=kind)
    return _back(ticket_id, f"Linked: this ticket is {linked.label} {linked.ticket.number}.")


@router.post("/{ticket_id}/links/{link_id}/remove")
def remove_link(session: DbSession, who: SignedIn, ticket_id: PathId, link_id: PathId) -> Response:
    link_service.unlink(session, who.actor, ticket_id, link_id)
    return _back(ticket_id, "Link removed.")


@router.post("/{ticket_id}/participants")
def add_participant(
    session: DbSession,
    who: SignedIn,
    ticket_id: PathId,
    email: Annotated[Email, Form()],
) -> Response:
    row = participant_service.add_participant(session, who.actor, ticket_id, email=email)
    return _back(ticket_id, f"{row.user.email} takes part now: their mail joins the conversation.")


@router.post("/{ticket_id}/participants/{user_id}/remove")
def remove_participant(session: DbSession, who: SignedIn, ticket_id: PathId, user_id: PathId) -> Response:
    participant_service.remove_participant(session, who.actor, ticket_id, user_id)
    return _back(ticket_id, "Participant removed: their mail is held for review again.")
