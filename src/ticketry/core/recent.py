"""Recent answers of expensive reads, per process, keyed by what decides them.

Each answer is kept `max_age` seconds for callers who would compute exactly the same thing (same
database, same key). When it is older, one caller recomputes it while the others are still given
the previous answer, for at most `max_age` seconds more. Callers put into the key everything the
answer depends on (a report: the reader's visibility, `reports.service.visibility_key`).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Engine
from sqlalchemy.orm import Session

T = TypeVar("T")
_STRIPES = 64


@dataclass(frozen=True)
class _Entry(Generic[T]):
    value: T
    at: float


class RecentAnswers(Generic[T]):
    def __init__(self, *, max_age: float, size: int = 512) -> None:
        self.max_age = max_age
        self._size = size
        self._lock = threading.Lock()
        # One table per engine, dropped with it: two databases never share an answer.
        self._tables: weakref.WeakKeyDictionary[Engine, OrderedDict[Hashable, _Entry[T]]] = (
            weakref.WeakKeyDictionary()
        )
        # Who computes which answer: striped, so memory stays bounded whatever the keys.
        self._gates = tuple(threading.Lock() for _ in range(_STRIPES))

    def get(self, session: Session, key: Hashable, compute: Callable[[], T]) -> T:
        engine = session.get_bind().engine
        stale = self._lookup(engine, key)
        if stale is not None and time.monotonic() - stale.at < self.max_age:
            return stale.value
        gate = self._gates[hash((id(engine), key)) % _STRIPES]
        if stale is not None and time.monotonic() - stale.at < 2 * self.max_age:
            if not gate.acquire(blocking=False):
                return stale.value  # another caller is refreshing it right now
        else:
            gate.acquire()
        try:
            current = self._lookup(engine, key)
            if current is not None and time.monotonic() - current.at < self.max_age:
                return current.value
            value = compute()
            self._store(engine, key, _Entry(value, time.monotonic()))
            return value
        finally:
            gate.release()

    def renew(self, session: Session, key: Hashable, compute: Callable[[], T]) -> T:
        """The answer computed now (the caller found the recent one out of date), kept as above."""
        value = compute()
        self._store(session.get_bind().engine, key, _Entry(value, time.monotonic()))
        return value

    def _lookup(self, engine: Engine, key: Hashable) -> _Entry[T] | None:
        with self._lock:
            table = self._tables.get(engine)
            return None if table is None else table.get(key)

    def _store(self, engine: Engine, key: Hashable, entry: _Entry[T]) -> None:
        with self._lock:
            table = self._tables.setdefault(engine, OrderedDict())
            table[key] = entry
            table.move_to_end(key)
            while len(table) > self._size:
                table.popitem(last=False)
