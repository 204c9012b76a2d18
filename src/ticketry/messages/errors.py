"""Message errors."""

from __future__ import annotations

from ticketry.core.errors import Conflict, NotFound, ValidationFailed


class EmptyMessage(ValidationFailed):
    code = "empty_message"


class MessageNotFound(NotFound):
    code = "message_not_found"


class MessageNotDeleted(Conflict):
    code = "message_not_deleted"


class MessageDeleted(Conflict):
    code = "message_deleted"


class StaleMessage(Conflict):
    code = "stale_message"


class MessageNotHeld(Conflict):
    code = "message_not_held"


class MessageHeld(Conflict):
    code = "message_held"
