"""Errors of the notification settings."""

from __future__ import annotations

from ticketry.core.errors import ValidationFailed


class SettingNotOffered(ValidationFailed):
    """A key that is not one of the caller's audience (an agent option sent by a customer)."""

    code = "setting_not_offered"
