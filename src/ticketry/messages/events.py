"""The message events, as jobs (see `jobs.events`), declared once for the use cases that raise
them and the handlers (`notifications.tasks`) that react to them."""

from __future__ import annotations

from typing import TypedDict

from ticketry.jobs.events import Event


class MessageCreated(TypedDict):
    ticket_id: int
    message_id: int
    # What the message was when written; handlers read the row again and trust that, not these.
    internal: bool
    staff: bool


CREATED = Event("messages.created", MessageCreated)
