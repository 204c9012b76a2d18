"""Authentication errors."""

from __future__ import annotations

from ticketry.core.errors import DomainError, NotAuthenticated, NotFound, ValidationFailed


class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"
    keep_changes = True


class WrongPassword(ValidationFailed):
    code = "wrong_password"


class TokenNotFound(NotFound):
    code = "token_not_found"


class InvalidOneTimeToken(DomainError):
    """A reset or verification link that does not exist, is spent, expired, or for another use."""

    code = "invalid_token"
    status = 400
