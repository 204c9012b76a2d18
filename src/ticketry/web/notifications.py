"""The notification settings page, for every signed-in user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import RedirectResponse

from ticketry.http.deps import DbSession
from ticketry.notifications import service as notification_service
from ticketry.notifications.preferences import ESSENTIAL, OPTIONS, keys_for
from ticketry.web.session import SignedIn
from ticketry.web.templating import render, set_flash

router = APIRouter(include_in_schema=False)
PAGE = "/account/notifications"


@router.get(PAGE)
def notifications_page(request: Request, session: DbSession, who: SignedIn) -> Response:
    found = notification_service.get_notification_settings(session, who.actor)
    return render(
        request,
        "account/notifications.html",
        {"options": OPTIONS[found.audience], "values": found.values, "essential": ESSENTIAL},
        who=who,
    )


@router.post(PAGE)
def save_notifications(
    session: DbSession, who: SignedIn, enabled: Annotated[list[str] | None, Form(max_length=20)] = None
) -> Response:
    """Checkboxes: a ticked option arrives as `enabled=<key>`, an unticked one not at all."""
    ticked = set(enabled or ())
    audience = notification_service.get_notification_settings(session, who.actor).audience
    changes = {key: key in ticked for key in keys_for(audience)}
    notification_service.update_notification_settings(session, who.actor, changes=changes)
    response = RedirectResponse(PAGE, status_code=303)
    set_flash(response, "Your notification settings are saved.")
    return response
