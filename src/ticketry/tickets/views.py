"""View counting, buffered in memory and flushed in the background.

Counting a view must not turn every ticket read into a write transaction (on SQLite that would
serialise readers behind the write lock). Views are summed per process and added to
`tickets.view_count` every few seconds; a crash loses at most those seconds of counts, which
are statistics, not anything a user was told was saved.
"""

from __future__ import annotations

import threading
from collections import Counter

from sqlalchemy import update
from sqlalchemy.orm import Session

from ticketry.tickets.models import Ticket


class ViewCounter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: Counter[int] = Counter()

    def seen(self, ticket_id: int) -> None:
        with self._lock:
            self._pending[ticket_id] += 1

    def flush(self, session: Session) -> int:
        """Write the pending counts into the caller's transaction; the number of tickets touched."""
        with self._lock:
            pending, self._pending = self._pending, Counter()
        for ticket_id, count in sorted(pending.items()):
            # A core UPDATE: it does not bump `version`, so a view never makes an edit stale.
            session.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id)
                .values(view_count=Ticket.view_count + count)
                .execution_options(synchronize_session=False)
            )
        return len(pending)


view_counter = ViewCounter()
