"""Live notes to watchers (docs/product.md §4): a watcher with the desk open sees "TICK-… changed" at once.

Each watcher gets an event on their own `user:<id>` channel, sent after the job's writes
commit. It carries the ticket's id and number and a short wording of the change (the same words
as the watcher's mail), nothing else; recipients are checked like mail recipients: active staff
who can still read the ticket, never the person who made the change. Unlike mail it does not
depend on the mail preferences: it is only shown to someone who has the desk open.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy.orm import Session

from ticketry.notifications.notifier import Outbox, may_read, staff_actors
from ticketry.realtime import broker as realtime
from ticketry.tickets.models import Ticket
from ticketry.users.models import User

EVENT = "watched"


def tell_watchers(
    session: Session,
    outbox: Outbox,
    ticket: Ticket,
    watching: Sequence[User],
    *,
    actor_id: int | None,
    change: str,
) -> list[int]:
    """Add a note for each of the ticket's watchers (`watching`) who may hear of it to `outbox`;
    returns their user ids. Whether each may still read the ticket is decided for all of them in
    one statement."""
    candidates = [user for user in watching if user.id != actor_id and user.is_active]
    readable = may_read(session, staff_actors(session, candidates), ticket_id=ticket.id)
    detail = json.dumps({"ticketId": ticket.id, "number": ticket.number, "change": change})
    told = [user.id for user in candidates if user.id in readable]
    outbox.live.extend(realtime.Event(realtime.user_channel(user_id), EVENT, detail) for user_id in told)
    return told
