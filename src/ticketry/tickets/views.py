"""View counting, buffered (see `core.buffer`): a read never becomes a write transaction.

A view is a visit: one person opening a ticket counts once per `VISIT`, however often their page
comes back to it (every action on the ticket page ends with the page again; a reload, too).
Visits are remembered per process: with several web processes a visit may count once in each.
"""

from __future__ import annotations

import operator
import threading
import time
from collections import OrderedDict

from sqlalchemy import update
from sqlalchemy.orm import Session

from ticketry.core.buffer import Accumulator
from ticketry.tickets.models import Ticket

VISIT_SECONDS = 30 * 60

_views: Accumulator[int, int] = Accumulator(operator.add)
_lock = threading.Lock()
# (viewer, ticket) -> when their visit began, oldest first: visits that ended leave from the front.
_visits: OrderedDict[tuple[int, int], float] = OrderedDict()


def _new_visit(viewer_id: int, ticket_id: int) -> bool:
    stamp = time.monotonic()
    key = (viewer_id, ticket_id)
    with _lock:
        while _visits and stamp - next(iter(_visits.values())) >= VISIT_SECONDS:
            _visits.popitem(last=False)
        if key in _visits:
            return False
        _visits[key] = stamp
        return True


def record_view(ticket_id: int, *, viewer_id: int) -> None:
    """Count a view of the ticket, unless this viewer's visit to it is already counted."""
    if _new_visit(viewer_id, ticket_id):
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
