"""Refusals of the canned-reply use cases."""

from __future__ import annotations

from ticketry.core.errors import NotFound


class CannedReplyNotFound(NotFound):
    """Missing, or another agent's personal reply: the two answer alike (no existence leak)."""

    code = "canned_reply_not_found"
