"""View counting, buffered (see `core.buffer`): a read never becomes a write transaction."""

from __future__ import annotations

import operator

from sqlalchemy import update
from sqlalchemy.orm import Session

from ticketry.core.buffer import Accumulator
from ticketry.tickets.models import Ticket

_views: Accumulator[int, int] = Accumulator(operator.add)


def record_view(ticket_id: int) -> None:
    _views.add(ticket_id, 1)


def flush_views(session: Session) -> int:
    """Add the gathered counts in the caller's transaction; the number of tickets touched."""
    pending = _views.drain()
    for ticket_id, count in pending.items():
        # A core UPDATE: it does not bump `version`, so a view never makes an edit stale.
        session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id)
            .values(view_count=Ticket.view_count + count)
            .execution_options(synchronize_session=False)
        )
    return len(pending)
