"""Errors about site settings."""

from __future__ import annotations

from ticketry.core.errors import PermissionDenied, ValidationFailed


class InvalidTicketPrefix(ValidationFailed):
    code = "invalid_ticket_prefix"


class SignupClosed(PermissionDenied):
    code = "signup_closed"


class InvalidRetention(ValidationFailed):
    code = "invalid_retention"


class InvalidMailSetting(ValidationFailed):
    code = "invalid_mail_setting"
