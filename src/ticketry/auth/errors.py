"""Authentication errors."""

from __future__ import annotations

from ticketry.core.errors import NotAuthenticated, NotFound, ValidationFailed


class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"
    keep_changes = True


class WrongPassword(ValidationFailed):
    code = "wrong_password"


class TokenNotFound(NotFound):
    code = "token_not_found"
