"""The current user's notification settings."""

from __future__ import annotations

from fastapi import APIRouter

from ticketry.http.deps import CurrentActor, DbSession
from ticketry.notifications import service as notification_service
from ticketry.notifications.schemas import NotificationSettingsUpdate, NotificationSettingsView

router = APIRouter(tags=["notifications"])


@router.get(
    "/users/me/notifications", response_model=NotificationSettingsView, response_model_exclude_none=True
)
def get_settings(session: DbSession, actor: CurrentActor) -> NotificationSettingsView:
    found = notification_service.get_notification_settings(session, actor)
    return NotificationSettingsView.of(found.audience, found.values)


@router.put(
    "/users/me/notifications", response_model=NotificationSettingsView, response_model_exclude_none=True
)
def put_settings(
    body: NotificationSettingsUpdate, session: DbSession, actor: CurrentActor
) -> NotificationSettingsView:
    changed = notification_service.update_notification_settings(session, actor, changes=body.changes())
    return NotificationSettingsView.of(changed.audience, changed.values)
