"""Values read once per batch of work, not once per use.

A job worker runs the jobs it claimed together inside `batch()`; code on their path asks
`remembered(key, read)` for a value that changes rarely and may be a batch old (the site
settings, the incoming-mail sender rules): the first job of the batch reads it, the other jobs
of the batch reuse it. Outside a batch (a web request, a test calling a handler directly) every
call reads. Whoever changes such a value calls `forget(key)`, so the same batch sees the change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar, cast

T = TypeVar("T")

_batch: ContextVar[dict[str, object] | None] = ContextVar("ticketry_memo_batch", default=None)


@contextmanager
def batch() -> Iterator[None]:
    """Remember values until the block ends (the jobs of one claim)."""
    token = _batch.set({})
    try:
        yield
    finally:
        _batch.reset(token)


def remembered(key: str, read: Callable[[], T]) -> T:
    """The batch's value under `key`, read by `read()` the first time; read every time outside
    a batch."""
    values = _batch.get()
    if values is None:
        return read()
    if key not in values:
        values[key] = read()
    return cast(T, values[key])


def forget(key: str) -> None:
    """The value changed: the next `remembered(key, …)` reads it again."""
    values = _batch.get()
    if values is not None:
        values.pop(key, None)
