"""Editing a message from the desk or the portal, its earlier versions, (admins, in the desk)
deleting and restoring it, and (staff) accepting held mail into the conversation. The rules live
in `messages.revisions`, `messages.service` and `messages.held`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from ticketry.http.deps import BrowserSession, DbSession, PathId
from ticketry.messages import held, revisions
from ticketry.messages import service as message_service
from ticketry.tickets import service as ticket_service
from ticketry.web.session import SignedIn
from ticketry.web.templating import render, set_flash

router = APIRouter(include_in_schema=False)

Body = Annotated[str, Form(min_length=1, max_length=100_000)]


def _ticket_url(who: BrowserSession, ticket_id: int) -> str:
    return f"/desk/tickets/{ticket_id}" if who.actor.is_staff else f"/tickets/{ticket_id}"


def _back(who: BrowserSession, ticket_id: int, message_id: int, text: str) -> Response:
    response = RedirectResponse(f"{_ticket_url(who, ticket_id)}#m{message_id}", status_code=303)
    set_flash(response, text)
    return response


def _edit(session: DbSession, who: BrowserSession, ticket_id: int, message_id: int, body: str) -> Response:
    revisions.edit_message(session, who.actor, ticket_id, message_id, body=body)
    return _back(who, ticket_id, message_id, "Message saved.")


@router.post("/desk/tickets/{ticket_id}/messages/{message_id}/edit")
def desk_edit(
    session: DbSession, who: SignedIn, ticket_id: PathId, message_id: PathId, body: Body
) -> Response:
    return _edit(session, who, ticket_id, message_id, body)


@router.post("/tickets/{ticket_id}/messages/{message_id}/edit")
def portal_edit(
    session: DbSession, who: SignedIn, ticket_id: PathId, message_id: PathId, body: Body
) -> Response:
    return _edit(session, who, ticket_id, message_id, body)


def _revisions_page(
    request: Request, session: DbSession, who: BrowserSession, ticket_id: int, message_id: int
) -> Response:
    ticket = ticket_service.get_ticket(session, who.actor, ticket_id)
    message = revisions.get_message(session, who.actor, ticket_id, message_id)
    context = {
        "ticket": ticket,
        "message": message,
        "revisions": revisions.list_revisions(session, who.actor, ticket_id, message_id),
        "ticket_url": _ticket_url(who, ticket_id),
        "staff_view": who.actor.is_staff,
    }
    return render(request, "messages/revisions.html", context, who=who)


@router.get("/desk/tickets/{ticket_id}/messages/{message_id}/revisions")
def desk_revisions(
    request: Request, session: DbSession, who: SignedIn, ticket_id: PathId, message_id: PathId
) -> Response:
    if not who.actor.is_staff:
        return RedirectResponse(f"/tickets/{ticket_id}/messages/{message_id}/revisions", status_code=303)
    return _revisions_page(request, session, who, ticket_id, message_id)


@router.get("/tickets/{ticket_id}/messages/{message_id}/revisions")
def portal_revisions(
    request: Request, session: DbSession, who: SignedIn, ticket_id: PathId, message_id: PathId
) -> Response:
    if who.actor.is_staff:
        return RedirectResponse(f"/desk/tickets/{ticket_id}/messages/{message_id}/revisions", status_code=303)
    return _revisions_page(request, session, who, ticket_id, message_id)


@router.post("/desk/tickets/{ticket_id}/messages/{message_id}/delete")
def delete(session: DbSession, who: SignedIn, ticket_id: PathId, message_id: PathId) -> Response:
    message_service.delete_message(session, who.actor, ticket_id, message_id)
    return _back(who, ticket_id, message_id, "Message deleted. You can restore it from this page.")


@router.post("/desk/tickets/{ticket_id}/messages/{message_id}/restore")
def restore(session: DbSession, who: SignedIn, ticket_id: PathId, message_id: PathId) -> Response:
    message_service.restore_message(session, who.actor, ticket_id, message_id)
    return _back(who, ticket_id, message_id, "Message restored.")


@router.post("/desk/tickets/{ticket_id}/messages/{message_id}/accept")
def accept(session: DbSession, who: SignedIn, ticket_id: PathId, message_id: PathId) -> Response:
    held.accept_held(session, who.actor, ticket_id, message_id)
    return _back(
        who, ticket_id, message_id, "Mail accepted: the customer sees it now, and its sender's mail joins."
    )
