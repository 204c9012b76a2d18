"""Authentication errors."""

from __future__ import annotations

from ticketry.core.errors import (
    Conflict,
    DomainError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)


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


class SessionNotFound(NotFound):
    code = "session_not_found"


class InsufficientScope(PermissionDenied):
    """A read-only token tried to change something."""

    code = "insufficient_scope"


class AccountExists(Conflict):
    """Finishing a sign-up for an address that got an account meanwhile. Only the holder of the
    mailed link sees it, so it reveals nothing to anyone else."""

    code = "account_exists"
