"""Enqueueing, and the admin's view of the queue."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ticketry.core.clock import now
from ticketry.core.config import get_settings
from ticketry.core.errors import Conflict, NotFound
from ticketry.core.pagination import Page, PageRequest, count_rows
from ticketry.jobs.events import Envelope
from ticketry.jobs.models import Job, JobStatus


def enqueue(session: Session, envelope: Envelope[Any], *, delay_seconds: float = 0) -> Job:
    """Add a job to the caller's transaction: it exists if and only if the caller commits.
    `envelope` is a declared event with its payload: `jobs.enqueue(session, CREATED({...}))`."""
    event = envelope.event
    job = Job(
        name=event.name,
        payload=dict(event.check(envelope.payload)),
        run_after=now() + timedelta(seconds=delay_seconds),
        max_attempts=get_settings().job_max_attempts,
    )
    session.add(job)
    return job


def list_jobs(session: Session, *, status: JobStatus | None, page: PageRequest) -> Page[Job]:
    query = select(Job).order_by(Job.id.desc())
    if status is not None:
        query = query.where(Job.status == status)
    items = list(session.scalars(query.limit(page.page_size).offset(page.offset)))
    return Page(items=items, total=count_rows(session, query), request=page)


def retry_job(session: Session, job_id: int) -> Job:
    """Put a dead job back in the queue with a fresh set of attempts."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"Job {job_id} does not exist.")
    if job.status is not JobStatus.DEAD:
        status = job.status.value
        raise Conflict(f"Only dead jobs can be retried; this one is {status}.", details={"status": status})
    job.status = JobStatus.QUEUED
    job.attempts = 0
    job.run_after = now()
    job.locked_by = None
    job.locked_until = None
    session.flush()
    return job


def counts_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(select(Job.status, func.count()).group_by(Job.status))
    return {status.value: count for status, count in rows}


def purge_finished(session: Session, *, older_than: timedelta = timedelta(days=7)) -> int:
    result = session.execute(
        delete(Job).where(Job.status == JobStatus.DONE, Job.finished_at < now() - older_than)
    )
    return int(getattr(result, "rowcount", 0) or 0)
