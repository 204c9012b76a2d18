"""The one source of the current time: aware UTC datetimes.

`travel_to` moves this thread's clock, for demo data spread over past weeks and for tests that
cross a year boundary; nothing else may set the time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_fixed: ContextVar[datetime | None] = ContextVar("ticketry_fixed_now", default=None)


def now() -> datetime:
    return _fixed.get() or datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; we only ever store UTC, so mark them as such."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@contextmanager
def travel_to(moment: datetime) -> Iterator[None]:
    token = _fixed.set(as_utc(moment))
    try:
        yield
    finally:
        _fixed.reset(token)
