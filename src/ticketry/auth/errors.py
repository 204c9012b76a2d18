"""Authentication errors."""

from __future__ import annotations

from ticketry.core.errors import NotAuthenticated, NotFound


class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"
    keep_changes = True


class TokenNotFound(NotFound):
    code = "token_not_found"
