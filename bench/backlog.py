"""The server's job queue as the load benchmark sees it from outside: what a write scenario leaves
behind, and how fast the server's in-process workers clear it (bench/README.md, "Writes and the
job backlog").

A create or reply answers once its jobs are queued; the notification jobs (and the `mail.send`
jobs they queue) run afterwards in the same processes that serve requests. A read scenario
measured while they still run would time the readers against the workers, so the benchmark waits
for the queue to empty first, up to a cap, and prints how long that took.

The queries stay cheap on a queue that grows with every run: jobs are counted through the
(status, run_after) index, jobs finished are derived from the ids handed out, and mails only
among the mail log rows written since the write scenario began.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select

from bench import server as proc
from ticketry.core.clock import now
from ticketry.core.db import Database
from ticketry.jobs.models import Job, JobStatus
from ticketry.mail.log.models import Direction, MailLog, MailStatus

MAIL_FINISHED = (MailStatus.SENT, MailStatus.NOT_SENT, MailStatus.FAILED)


@dataclass(frozen=True)
class Snapshot:
    at: float  # time.monotonic()
    due: int  # queued and due now, or running: the backlog
    later: int  # queued for later (retries waiting out their backoff)
    last_job_id: int
    mails: int  # outbound mail log rows above the mark
    mails_finished: int  # of those, sent, not sent (no SMTP server) or failed

    @property
    def pending(self) -> int:
        return self.due + self.later


class Queue:
    """Read-only looks at the server's `jobs` and `mail_log` tables."""

    def __init__(self, database_url: str) -> None:
        self.db = Database.connect(database_url, pool_size=1)
        self.mail_mark = 0  # mail log rows above this id are counted

    def close(self) -> None:
        self.db.dispose()

    def mark_mail(self) -> None:
        """Count from here on: the mail log rows written from now."""
        with self.db.unit_of_work(write=False) as session:
            self.mail_mark = session.scalar(select(func.coalesce(func.max(MailLog.id), 0))) or 0

    def snapshot(self) -> Snapshot:
        stamp = now()
        with self.db.unit_of_work(write=False) as session:
            due = session.scalar(select(func.count()).select_from(Job).where(_due(stamp))) or 0
            later = (
                session.scalar(
                    select(func.count())
                    .select_from(Job)
                    .where(Job.status == JobStatus.QUEUED, Job.run_after > stamp)
                )
                or 0
            )
            last_job = session.scalar(select(func.coalesce(func.max(Job.id), 0))) or 0
            outbound = and_(MailLog.id > self.mail_mark, MailLog.direction == Direction.OUTBOUND)
            mails, finished = session.execute(
                select(func.count(), func.count().filter(MailLog.status.in_(MAIL_FINISHED))).where(outbound)
            ).one()
        return Snapshot(time.monotonic(), due, later, last_job, int(mails or 0), int(finished or 0))

    def due_by_name(self) -> dict[str, int]:
        """The jobs due or running, by name (a `tickets.created` still has its mails to fan out)."""
        with self.db.unit_of_work(write=False) as session:
            rows = session.execute(select(Job.name, func.count()).where(_due(now())).group_by(Job.name))
            return {str(name): int(count) for name, count in sorted(rows, key=lambda row: -row[1])}


def _due(stamp: datetime) -> ColumnElement[bool]:
    return or_(
        Job.status == JobStatus.RUNNING,
        and_(Job.status == JobStatus.QUEUED, Job.run_after <= stamp),
    )


def jobs_finished(before: Snapshot, after: Snapshot) -> int:
    """Jobs that left the queue between two snapshots (done or dead): the pending ones before, plus
    the ids handed out since, less the pending ones after."""
    return before.pending + (after.last_job_id - before.last_job_id) - after.pending


@dataclass
class Drain:
    """What a write scenario left in the queue, and how it was worked off."""

    after: str  # the scenario (or "start")
    write_seconds: float  # the scenario, warm-up included (0 for "start")
    jobs_queued: int  # ids handed out during it
    jobs_done_during: int  # finished during it, by the workers serving the writes as well
    mails_logged_during: int
    backlog_jobs: int  # due or running when it ended
    backlog_later: int
    backlog_mails: int  # outbound mails logged but not finished then
    backlog_by_name: dict[str, int]
    drained: bool
    seconds: float  # from the end of the scenario until the backlog was empty (or the cap)
    jobs_done: int
    mails_done: int
    jobs_per_s: float | None
    mails_per_s: float | None
    server_cpu_percent: int  # the uvicorn processes (their in-process workers) while draining
    left_jobs: int  # still due when the cap was reached (0 when drained)
    left_mails: int
    left_by_name: dict[str, int]
    eta_seconds: float | None  # at the drain rate, how much longer the rest would take

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        if self.after == "start":
            head = f"queue before the first scenario: {self.backlog_jobs} jobs due"
        else:
            head = (
                f"after {self.after}: {self.jobs_queued} jobs queued in {self.write_seconds:.1f} s "
                f"({_per_s(self.jobs_queued, self.write_seconds)}/s), {self.jobs_done_during} run meanwhile; "
                f"backlog {self.backlog_jobs} jobs due {_names(self.backlog_by_name)}, "
                f"{self.backlog_mails} mails composed and unsent"
            )
        rates = (
            f"{_fmt(self.jobs_per_s)} jobs/s, {_fmt(self.mails_per_s)} mails/s, "
            f"srv {self.server_cpu_percent}%"
        )
        if self.drained:
            return f"{head}; drained in {self.seconds:.1f} s ({rates})"
        eta = (
            "and at this rate never done"
            if self.eta_seconds is None
            else f"at this rate at least {self.eta_seconds:.0f} s more (a job left may queue more)"
        )
        return (
            f"{head}; NOT drained after {self.seconds:.0f} s ({rates}): {self.left_jobs} jobs due "
            f"{_names(self.left_by_name)} and {self.left_mails} composed mails behind, {eta}; "
            "the next scenarios run against this backlog"
        )


def _names(counts: dict[str, int]) -> str:
    return "(" + ", ".join(f"{count} {name}" for name, count in counts.items()) + ")" if counts else ""


def _per_s(count: int, seconds: float) -> str:
    return _fmt(count / seconds if seconds else None)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


async def drain(
    queue: Queue,
    *,
    after: str,
    before_writes: Snapshot | None,
    timeout: float,
    server_pids: Callable[[], list[int]],
    poll_seconds: float = 1.0,
) -> Drain:
    """Wait until no job is due or running (at most `timeout` s), looking every `poll_seconds`."""
    pids = server_pids()
    cpu = proc.cpu_seconds(pids)
    start = queue.snapshot()
    by_name = queue.due_by_name() if start.due else {}
    current = start
    while current.due > 0 and current.at - start.at < timeout:
        await asyncio.sleep(poll_seconds)
        current = queue.snapshot()
    seconds = current.at - start.at
    cpu = proc.cpu_seconds(pids) - cpu
    done = jobs_finished(start, current)
    mails_done = current.mails_finished - start.mails_finished
    jobs_rate = done / seconds if seconds > 0 else None
    left_mails = current.mails - current.mails_finished
    origin = before_writes or start
    return Drain(
        after=after,
        write_seconds=round(start.at - origin.at, 2),
        jobs_queued=start.last_job_id - origin.last_job_id,
        jobs_done_during=jobs_finished(origin, start),
        mails_logged_during=start.mails - origin.mails,
        backlog_jobs=start.due,
        backlog_later=start.later,
        backlog_mails=start.mails - start.mails_finished,
        backlog_by_name=by_name,
        drained=current.due == 0,
        seconds=round(seconds, 2),
        jobs_done=done,
        mails_done=mails_done,
        jobs_per_s=round(jobs_rate, 1) if jobs_rate is not None else None,
        mails_per_s=round(mails_done / seconds, 1) if seconds > 0 else None,
        server_cpu_percent=round(100 * cpu / seconds) if seconds > 0 else 0,
        left_jobs=current.due,
        left_mails=left_mails,
        left_by_name=queue.due_by_name() if current.due else {},
        eta_seconds=round(current.due / jobs_rate, 1) if jobs_rate else None,
    )
