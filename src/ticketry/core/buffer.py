"""In-memory accumulation of high-frequency, low-value writes (view counts, "token last used").

Turning every read into a write transaction would serialise readers on SQLite and churn hot
rows on PostgreSQL. Such facts are gathered per process and written every few seconds by the
scheduler; a crash loses at most those seconds of statistics, never anything a user was told
was saved.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Accumulator(Generic[K, V]):
    def __init__(self, merge: Callable[[V, V], V]) -> None:
        self._merge = merge
        self._lock = threading.Lock()
        self._pending: dict[K, V] = {}

    def add(self, key: K, value: V) -> None:
        with self._lock:
            current = self._pending.get(key)
            self._pending[key] = value if current is None else self._merge(current, value)

    def drain(self) -> dict[K, V]:
        """Everything gathered since the last drain, sorted by key (stable lock order)."""
        with self._lock:
            pending, self._pending = self._pending, {}
        return dict(sorted(pending.items()))
