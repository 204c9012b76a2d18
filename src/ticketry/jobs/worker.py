"""The job worker: claim with a lease, run each job in its own transaction, retry, park.

Claiming uses `FOR UPDATE SKIP LOCKED` on PostgreSQL so any number of workers share the queue;
on SQLite the claim runs under `BEGIN IMMEDIATE`, one writer at a time. A job is marked done in
the same transaction as its handler's writes, and only while this worker still holds the lease,
so a committed job's effects happen once even when two workers race or one dies mid-run. A
task (`jobs.registry.task`) runs outside any transaction and commits its own steps, so tasks make
them idempotent; the completed tasks of a claimed batch are recorded done together when the batch
ends (a worker that dies first only has them run again). A staged job (`jobs.registry.staged`) reads in
a read transaction first; the writes it returns commit with its completion. A job nobody can run
(no handler registered under its name, or a payload that does not fit its declared event) is
parked as dead at once with the reason, never marked done as if it had run.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import traceback
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ticketry.core import memo
from ticketry.core.clock import now
from ticketry.core.config import get_settings
from ticketry.core.db import Database
from ticketry.jobs.events import PayloadMismatch
from ticketry.jobs.models import Job, JobStatus
from ticketry.jobs.registry import Registration, registered

log = structlog.get_logger(__name__)


class LeaseLost(Exception):
    """Another worker took the job over (our lease expired); our work is rolled back."""


def backoff_seconds(attempts: int, *, base: float) -> float:
    """Exponential with jitter, capped at an hour."""
    return float(min(base * 2 ** max(attempts - 1, 0), 3600.0) * random.uniform(0.8, 1.2))  # noqa: S311


class Worker:
    def __init__(
        self,
        db: Database,
        *,
        name: str | None = None,
        batch_size: int = 10,
        lease_seconds: int | None = None,
        retry_base_seconds: float = 5.0,
    ) -> None:
        self.db = db
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        self.batch_size = batch_size
        self.lease = timedelta(seconds=lease_seconds or get_settings().job_lease_seconds)
        self.retry_base_seconds = retry_base_seconds
        self._claimed: dict[int, tuple[str, dict[str, Any]]] = {}
        # Tasks of the running batch that completed: recorded done together when it ends.
        self._tasks_done: list[int] | None = None

    def claim(self) -> list[int]:
        """Lease the next due jobs (or ones whose lease ran out) in one statement; their ids in
        queue order."""
        stamp = now()
        due = (
            select(Job.id)
            .where(
                or_(
                    (Job.status == JobStatus.QUEUED) & (Job.run_after <= stamp),
                    (Job.status == JobStatus.RUNNING) & (Job.locked_until < stamp),
                )
            )
            .order_by(Job.run_after, Job.id)
            .limit(self.batch_size)
        )
        if self.db.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        with self.db.unit_of_work() as session:
            leased = session.execute(
                update(Job)
                .where(Job.id.in_(due.scalar_subquery()))
                .values(
                    status=JobStatus.RUNNING,
                    locked_by=self.name,
                    locked_until=stamp + self.lease,
                    attempts=Job.attempts + 1,
                )
                .returning(Job.id, Job.name, Job.payload, Job.run_after)
                .execution_options(synchronize_session=False)
            ).all()
        leased = sorted(leased, key=lambda row: (row.run_after, row.id))
        for row in leased:
            self._claimed[row.id] = (row.name, dict(row.payload))
        return [row.id for row in leased]

    def run_job(self, job_id: int) -> bool:
        """Run one claimed job; True if it completed."""
        try:
            found = self._claimed.pop(job_id, None)
            if found is None:
                with self.db.unit_of_work(write=False) as session:
                    row = session.execute(select(Job.name, Job.payload).where(Job.id == job_id)).one_or_none()
                if row is None:
                    return False
                found = (row[0], dict(row[1]))
            name, raw = found
            registration = registered(name)
            if registration is None:
                self._park(job_id, name, f"no handler for job {name!r}")
                return False
            try:
                payload = registration.event.check(raw)
            except PayloadMismatch as error:
                self._park(job_id, name, str(error))
                return False
            self._run(job_id, registration, payload)
            return True
        except LeaseLost:
            log.warning("job.lease_lost", job_id=job_id, worker=self.name)
            return False
        except Exception as error:  # a handler may fail in any way; the job must not be lost
            self._record_failure(job_id, error)
            return False

    def _run(self, job_id: int, registration: Registration, payload: dict[str, Any]) -> None:
        """Run the handler its way (see `jobs.registry`) and mark the job done with its writes."""
        handler = registration.handler
        if registration.kind == "task":
            handler(self.db, dict(payload))
            if self._tasks_done is not None:
                self._tasks_done.append(job_id)
                return
        writes = None
        if registration.kind == "staged":
            with self.db.unit_of_work(write=False) as session:
                writes = handler(session, dict(payload))
        with self.db.unit_of_work() as session:
            if registration.kind == "job":
                handler(session, dict(payload))
            elif writes is not None:
                writes(session)
            self._finish(session, job_id)

    def _finish(self, session: Session, job_id: int) -> None:
        done = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == JobStatus.RUNNING, Job.locked_by == self.name)
            .values(status=JobStatus.DONE, finished_at=now(), locked_until=None, last_error=None)
        )
        if getattr(done, "rowcount", 0) != 1:
            raise LeaseLost(job_id)

    def _record_failure(self, job_id: int, error: Exception) -> None:
        detail = "".join(traceback.format_exception(error))[-4000:]
        with self.db.unit_of_work() as session:
            job = session.get(Job, job_id)
            if job is None or job.locked_by != self.name or job.status != JobStatus.RUNNING:
                return
            job.last_error = detail
            job.locked_until = None
            if job.attempts >= job.max_attempts:
                job.status = JobStatus.DEAD
                job.finished_at = now()
                log.error("job.dead", job_id=job_id, name=job.name, attempts=job.attempts, error=repr(error))
            else:
                job.status = JobStatus.QUEUED
                job.run_after = now() + timedelta(
                    seconds=backoff_seconds(job.attempts, base=self.retry_base_seconds)
                )
                log.warning(
                    "job.retry", job_id=job_id, name=job.name, attempts=job.attempts, error=repr(error)
                )

    def _park(self, job_id: int, name: str, reason: str) -> None:
        """Refuse a job no handler can run: dead at once (retrying cannot help), with the reason
        for the admin who reads the dead jobs; never marked done as if it had run."""
        with self.db.unit_of_work() as session:
            parked = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.status == JobStatus.RUNNING, Job.locked_by == self.name)
                .values(status=JobStatus.DEAD, finished_at=now(), locked_until=None, last_error=reason)
            )
        if getattr(parked, "rowcount", 0) == 1:
            log.error("job.refused", job_id=job_id, name=name, reason=reason)

    def _finish_tasks(self, job_ids: list[int]) -> None:
        """Record the batch's completed tasks done in one transaction. A task commits its own
        steps and is idempotent, so a worker that dies before this only has them run again."""
        if not job_ids:
            return
        with self.db.unit_of_work() as session:
            done = session.execute(
                update(Job)
                .where(Job.id.in_(job_ids), Job.status == JobStatus.RUNNING, Job.locked_by == self.name)
                .values(status=JobStatus.DONE, finished_at=now(), locked_until=None, last_error=None)
            )
        if getattr(done, "rowcount", 0) != len(job_ids):
            log.warning("job.lease_lost", job_ids=job_ids, worker=self.name)

    def run_once(self) -> int:
        """Claim one batch and run it; the number of jobs claimed. Values its jobs read through
        `core.memo` are read once for the batch."""
        claimed = self.claim()
        self._tasks_done = []
        try:
            with memo.batch():
                for job_id in claimed:
                    self.run_job(job_id)
        finally:
            tasks_done, self._tasks_done = self._tasks_done, None
            self._finish_tasks(tasks_done)
        return len(claimed)

    def run_until_idle(self, *, max_batches: int = 1000) -> None:
        for _ in range(max_batches):
            if self.run_once() == 0:
                return

    def run_forever(self, stop: threading.Event, *, poll_seconds: float | None = None) -> None:
        interval = poll_seconds if poll_seconds is not None else get_settings().worker_poll_seconds
        log.info("worker.started", worker=self.name)
        while not stop.is_set():
            try:
                busy = self.run_once() > 0
            except Exception:  # the database may be briefly away; keep the worker alive
                log.exception("worker.claim_failed", worker=self.name)
                busy = False
            if not busy:
                stop.wait(interval)
        log.info("worker.stopped", worker=self.name)
