"""Reading and changing one's own notification settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ticketry.auth.actor import Actor
from ticketry.notifications.errors import SettingNotOffered
from ticketry.notifications.preferences import Audience, audience_of, effective, keys_for
from ticketry.users import service as users


@dataclass(frozen=True)
class NotificationSettings:
    audience: Audience
    values: dict[str, bool]


def get_notification_settings(session: Session, actor: Actor) -> NotificationSettings:
    user = users.get_user(session, actor.user_id)
    audience = audience_of(actor.is_staff)
    return NotificationSettings(audience, effective(audience, user.notification_settings or {}))


def update_notification_settings(
    session: Session, actor: Actor, *, changes: Mapping[str, bool]
) -> NotificationSettings:
    """Change some options; the others keep their value. Options of the other audience are
    refused (422), so a typo or a wrong client never looks like it worked."""
    audience = audience_of(actor.is_staff)
    offered = keys_for(audience)
    refused = sorted(set(changes) - set(offered))
    if refused:
        raise SettingNotOffered(
            f"These options are not offered to {audience.value}s: {', '.join(refused)}.",
            details={"options": refused, "offered": list(offered)},
        )
    user = users.get_user(session, actor.user_id)
    # A new dict, so the JSON column sees the change.
    user.notification_settings = {**(user.notification_settings or {}), **dict(changes)}
    session.flush()
    return NotificationSettings(audience, effective(audience, user.notification_settings))
