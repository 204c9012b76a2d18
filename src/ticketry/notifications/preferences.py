"""The notification choices a user has, by audience (pure: no I/O).

Customers may turn off the confirmations (received, resolved, closed); a staff reply is always
sent, since it is the conversation itself. Agents choose each of their four kinds.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class Audience(enum.StrEnum):
    CUSTOMER = "customer"
    AGENT = "agent"


class Kind(enum.StrEnum):
    """Every notification mail; the value is also the mail log's `purpose`."""

    TICKET_RECEIVED = "ticket_received"
    STAFF_REPLY = "staff_reply"
    TICKET_RESOLVED = "ticket_resolved"
    TICKET_CLOSED = "ticket_closed"
    # Not an option: a customer is always told where their request went (issue 6 part 6).
    TICKET_MERGED = "ticket_merged"
    NEW_TICKET = "new_ticket"
    ASSIGNED_TO_ME = "assigned_to_me"
    CUSTOMER_REPLY = "customer_reply"
    WATCHED_TICKET = "watched_ticket"


@dataclass(frozen=True)
class Option:
    kind: Kind
    label: str
    hint: str


OPTIONS: dict[Audience, tuple[Option, ...]] = {
    Audience.CUSTOMER: (
        Option(Kind.TICKET_RECEIVED, "Ticket received", "A confirmation when you open a ticket."),
        Option(Kind.TICKET_RESOLVED, "Ticket resolved", "When we mark your ticket as resolved."),
        Option(Kind.TICKET_CLOSED, "Ticket closed", "When your ticket is closed."),
    ),
    Audience.AGENT: (
        Option(Kind.NEW_TICKET, "New tickets", "A new, unassigned ticket in one of your departments."),
        Option(Kind.ASSIGNED_TO_ME, "Assigned to me", "A ticket is assigned or transferred to you."),
        Option(Kind.CUSTOMER_REPLY, "Customer replies", "The customer replies on a ticket assigned to you."),
        Option(Kind.WATCHED_TICKET, "Watched tickets", "Any change on a ticket you watch."),
    ),
}
# Sent whatever the settings say.
ESSENTIAL = frozenset({Kind.STAFF_REPLY})


def audience_of(is_staff: bool) -> Audience:
    return Audience.AGENT if is_staff else Audience.CUSTOMER


def keys_for(audience: Audience) -> tuple[str, ...]:
    return tuple(option.kind.value for option in OPTIONS[audience])


def effective(audience: Audience, stored: Mapping[str, Any]) -> dict[str, bool]:
    """The user's setting for every option of their audience; absent means on."""
    return {key: stored.get(key) is not False for key in keys_for(audience)}


def wants(stored: Mapping[str, Any], kind: Kind) -> bool:
    return kind in ESSENTIAL or stored.get(kind.value) is not False
