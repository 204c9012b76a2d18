"""The worker runs a claim's jobs as one batch: values read through `core.memo` (the site
settings, the incoming-mail rules) are read once for it, a change made inside it is seen by the
jobs after, and the batch's completed tasks are recorded done together when it ends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypedDict

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.factories import make_admin
from tests.web.test_query_counts import counting

from ticketry.core.db import Database
from ticketry.jobs import service as jobs
from ticketry.jobs.events import Event
from ticketry.jobs.models import Job, JobStatus
from ticketry.jobs.registry import job, task, unregister
from ticketry.jobs.worker import Worker
from ticketry.sitesettings import service as site_settings


class Step(TypedDict):
    n: int
    prefix: str  # "" reads the prefix; else an admin sets it


READ_PREFIX = Event("tests.batches.read_prefix", Step)
OBSERVE = Event("tests.batches.observe", Step)


@pytest.fixture
def prefixes(db: Database) -> Iterator[list[str]]:
    """A job that reads the ticket prefix (or, given one, has an admin set it) and notes it."""
    seen: list[str] = []
    admin = make_admin(db).actor

    def handler(session: Session, payload: Step) -> None:
        if payload["prefix"]:
            site_settings.update(session, admin, ticket_prefix=payload["prefix"])
        seen.append(site_settings.current(session).ticket_prefix)

    job(READ_PREFIX)(handler)
    yield seen
    unregister(READ_PREFIX.name)


def queue(db: Database, event: Event[Step], *steps: Step) -> list[int]:
    with db.unit_of_work() as session:
        made = [jobs.enqueue(session, event(step)) for step in steps]
        session.flush()
        return [item.id for item in made]


def test_a_batch_reads_the_settings_once_and_sees_a_change_made_in_it(
    db: Database, prefixes: list[str]
) -> None:
    queue(db, READ_PREFIX, *({"n": n, "prefix": ""} for n in range(4)))
    with counting(db) as counter:
        assert Worker(db, batch_size=10).run_once() == 4
    reads = [s for s in counter.statements if s.lstrip().startswith("SELECT") and "FROM site_settings" in s]
    assert len(reads) == 1, counter.statements
    assert prefixes == ["TICK"] * 4

    queue(
        db,
        READ_PREFIX,
        {"n": 5, "prefix": ""},
        {"n": 6, "prefix": "HELP"},
        {"n": 7, "prefix": ""},
    )
    Worker(db, batch_size=10).run_once()
    assert prefixes[4:] == ["TICK", "HELP", "HELP"]


def test_batches_do_not_share_what_they_read(db: Database, prefixes: list[str]) -> None:
    queue(db, READ_PREFIX, {"n": 1, "prefix": ""})
    Worker(db).run_once()
    with db.unit_of_work() as session:  # an admin saves the settings between two batches
        site_settings.update(session, make_admin(db).actor, ticket_prefix="DESK")
    queue(db, READ_PREFIX, {"n": 2, "prefix": ""})
    Worker(db).run_once()
    assert prefixes == ["TICK", "DESK"]


@pytest.fixture
def observed(db: Database) -> Iterator[list[tuple[int, list[JobStatus]]]]:
    """A task that notes the status of every job of its kind while it runs."""
    notes: list[tuple[int, list[JobStatus]]] = []

    def handler(database: Database, payload: Step) -> None:
        with database.unit_of_work(write=False) as session:
            statuses = session.scalars(
                select(Job.status).where(Job.name == OBSERVE.name).order_by(Job.id)
            ).all()
        notes.append((payload["n"], list(statuses)))

    task(OBSERVE)(handler)
    yield notes
    unregister(OBSERVE.name)


def test_completed_tasks_are_recorded_done_together_when_the_batch_ends(
    db: Database, observed: list[tuple[int, list[JobStatus]]]
) -> None:
    ids = queue(db, OBSERVE, *({"n": n, "prefix": ""} for n in range(3)))
    Worker(db, batch_size=10).run_once()
    # Each ran in queue order while the whole batch was still leased as running ...
    assert observed == [(n, [JobStatus.RUNNING] * 3) for n in range(3)]
    # ... and all three are done now, with their finishing time.
    with db.unit_of_work(write=False) as session:
        rows = session.scalars(select(Job).where(Job.id.in_(ids)).order_by(Job.id)).all()
    assert [(row.status, row.attempts, row.locked_until) for row in rows] == [(JobStatus.DONE, 1, None)] * 3
    assert all(row.finished_at is not None for row in rows)


def test_a_task_run_on_its_own_is_recorded_done_at_once(
    db: Database, observed: list[tuple[int, list[JobStatus]]]
) -> None:
    [job_id] = queue(db, OBSERVE, {"n": 1, "prefix": ""})
    worker = Worker(db)
    assert worker.claim() == [job_id]
    assert worker.run_job(job_id) is True
    with db.unit_of_work(write=False) as session:
        assert session.scalar(select(Job.status).where(Job.id == job_id)) is JobStatus.DONE
