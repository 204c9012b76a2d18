"""Running test work in threads at once: the one way the concurrency tests start their threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def together(work: Sequence[Callable[[], T]], *, timeout: float = 120) -> list[T]:
    """Run each in a thread of its own, all starting at once; their results, in order. A
    thread's failure fails the test (the first error is raised, with its traceback)."""
    start = threading.Barrier(len(work))
    results: list[T | None] = [None] * len(work)
    errors: list[BaseException] = []

    def run(index: int, one: Callable[[], T]) -> None:
        try:
            start.wait()
            results[index] = one()
        except BaseException as error:  # raised below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i, one)) for i, one in enumerate(work)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    if errors:
        raise errors[0]
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish in time"
    return results  # type: ignore[return-value]  # every slot filled: no thread failed
