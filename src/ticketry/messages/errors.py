"""Message errors."""

from __future__ import annotations

from ticketry.core.errors import ValidationFailed


class EmptyMessage(ValidationFailed):
    code = "empty_message"
