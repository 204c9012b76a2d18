"""Recent answers of expensive reports, per process, keyed by what decides them.

A report over every visible ticket costs half a second at a million tickets; desks and
dashboards ask for it constantly. Each answer is kept `max_age` seconds for callers who would
compute exactly the same thing (same database, same visibility, same arguments). When it is
older, one caller recomputes it while the others are still given the previous answer, for at
most `max_age` seconds more; nobody is ever given an answer computed for another visibility.
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

from ticketry.auth.actor import Actor
from ticketry.auth.permissions import Permission

T = TypeVar("T")
_STRIPES = 64


def visibility_key(actor: Actor) -> Hashable:
    """What `ticket_visibility(actor)` depends on: the same key, the same tickets."""
    if actor.can(Permission.TICKETS_VIEW_ALL):
        return ("all",)
    return (
        actor.user_id,
        actor.is_staff,
        actor.can(Permission.TICKETS_VIEW),
        actor.organization_id,
        actor.organization_shared,
        tuple(sorted(actor.department_ids)),
    )


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
