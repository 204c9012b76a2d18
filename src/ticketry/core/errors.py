"""Domain errors: each has a stable code and the HTTP status the API maps it to."""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    code: ClassVar[str] = "error"
    status: ClassVar[int] = 400
    # The unit of work commits before re-raising: the failure itself must be recorded
    # (a failed login attempt counts towards throttling).
    keep_changes: ClassVar[bool] = False

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class NotFound(DomainError):
    code = "not_found"
    status = 404


class PermissionDenied(DomainError):
    code = "forbidden"
    status = 403


class NotAuthenticated(DomainError):
    code = "not_authenticated"
    status = 401


class ValidationFailed(DomainError):
    code = "validation_error"
    status = 422


class Conflict(DomainError):
    code = "conflict"
    status = 409


class TooManyRequests(DomainError):
    code = "too_many_requests"
    status = 429

    def __init__(self, message: str, *, retry_after: int, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after
