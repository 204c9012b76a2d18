"""`core.memo`: a value read once per batch of jobs, every time outside one, again once forgotten."""

from __future__ import annotations

from itertools import count

from ticketry.core import memo


def reader() -> tuple[count[int], object]:
    reads = count(1)
    return reads, lambda: next(reads)


def test_outside_a_batch_every_call_reads() -> None:
    _, read = reader()
    assert [memo.remembered("k", read) for _ in range(3)] == [1, 2, 3]  # type: ignore[arg-type]


def test_a_batch_reads_once_and_forgets_when_told_and_when_it_ends() -> None:
    _, read = reader()
    with memo.batch():
        assert [memo.remembered("k", read) for _ in range(3)] == [1, 1, 1]  # type: ignore[arg-type]
        memo.forget("k")
        assert memo.remembered("k", read) == 2  # type: ignore[arg-type]
        assert memo.remembered("other", lambda: "x") == "x"
    with memo.batch():
        assert memo.remembered("k", read) == 3  # type: ignore[arg-type]
    assert memo.remembered("k", read) == 4  # type: ignore[arg-type]
