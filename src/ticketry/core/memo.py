"""Values read once per batch of work, or shared by a process's requests for a few seconds.

A job worker runs the jobs it claimed together inside `batch()`; code on their path asks
`remembered(key, read)` for a value that changes rarely and may be a batch old (the site
settings, the incoming-mail sender rules): the first job of the batch reads it, the other jobs
of the batch reuse it. Outside a batch (a web request, a test calling a handler directly) every
call reads. Whoever changes such a value calls `forget(key)`, so the same batch sees the change.

`Kept` holds a small value (the choices a desk page offers) for every request of the process,
for a few seconds, and drops it when the process commits a change to what it was read from.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import event
from sqlalchemy.orm import Session

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


# --- shared by a process's requests for a few seconds --------------------------------------------


class Kept(Generic[T]):
    """A small value every request of this process shares for `seconds` (the choices a desk page
    offers: departments, categories, agents, tags): read again once older, and dropped as soon as
    a transaction of this process commits a change to one of the `watch` models. Another process's
    change shows within `seconds`. Hold rows or tuples, never ORM objects (they belong to the
    session that loaded them)."""

    def __init__(self, name: str, *, watch: tuple[type[Any], ...], seconds: float) -> None:
        self.name = name
        self.watch = watch
        self.seconds = seconds
        self._value: tuple[float, T] | None = None
        _kept.append(self)

    def get(self, read: Callable[[], T]) -> T:
        found = self._value
        if found is not None and found[0] > time.monotonic():
            return found[1]
        value = read()
        self._value = (time.monotonic() + self.seconds, value)
        return value

    def drop(self) -> None:
        self._value = None


_kept: list[Kept[Any]] = []
_CHANGED = "ticketry.memo.changed"


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, _context: object) -> None:
    changed = [*session.new, *session.dirty, *session.deleted]
    hit = {id(kept): kept for kept in _kept for obj in changed if isinstance(obj, kept.watch)}
    if hit:
        session.info.setdefault(_CHANGED, {}).update(hit)


@event.listens_for(Session, "after_commit")
def _drop_changed(session: Session) -> None:
    for kept in session.info.pop(_CHANGED, {}).values():
        kept.drop()


@event.listens_for(Session, "after_rollback")
def _forget_changes(session: Session) -> None:
    session.info.pop(_CHANGED, None)
