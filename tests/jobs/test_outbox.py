"""The transactional outbox and its worker (docs/architecture.md §4): a job exists if and only if its change
commits, runs once even with competing workers, is retried, parked as dead, shown to admins."""

from __future__ import annotations

import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import TypedDict

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.factories import api_ticket, make_admin, make_agent, make_customer
from tests.threads import together

from ticketry.auth.models import LoginAttempt
from ticketry.core.clock import now, travel_to
from ticketry.core.db import Database
from ticketry.jobs import service as jobs
from ticketry.jobs.events import Event, PayloadMismatch
from ticketry.jobs.models import Job, JobStatus
from ticketry.jobs.registry import Writes, job, staged, unregister
from ticketry.jobs.worker import Worker
from ticketry.tickets import service as ticket_service


class Numbered(TypedDict):
    n: int


class Nothing(TypedDict):
    pass


RECORD = Event("tests.outbox.record", Numbered)
JOB = RECORD.name
NOBODY_LISTENS = Event("tests.outbox.nobody_listens", Numbered)


class Recorder:
    """A throwaway handler: counts its calls and writes one row per call in the job's transaction."""

    def __init__(self) -> None:
        self.calls: Counter[int] = Counter()
        self.fail = False
        self.lock = threading.Lock()

    def __call__(self, session: Session, payload: Numbered) -> None:
        with self.lock:
            self.calls[payload["n"]] += 1
        session.add(LoginAttempt(account=f"job:{payload['n']}", ip="worker", succeeded=True))
        if self.fail:
            raise RuntimeError(f"boom {payload['n']}")


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    handler = Recorder()
    job(RECORD)(handler)
    yield handler
    unregister(JOB)


def enqueue(db: Database, *numbers: int, max_attempts: int | None = None) -> list[int]:
    with db.unit_of_work() as session:
        made = [jobs.enqueue(session, RECORD({"n": n})) for n in numbers]
        for item in made:
            if max_attempts is not None:
                item.max_attempts = max_attempts
        session.flush()
        return [item.id for item in made]


def job_rows(db: Database, name: str | None = None) -> list[Job]:
    with db.unit_of_work(write=False) as session:
        query = select(Job).order_by(Job.id)
        if name is not None:
            query = query.where(Job.name == name)
        return list(session.scalars(query))


def effects(db: Database) -> Counter[str]:
    with db.unit_of_work(write=False) as session:
        return Counter(session.scalars(select(LoginAttempt.account).where(LoginAttempt.ip == "worker")))


class TestEnqueue:
    def test_committed_change_enqueues_its_job(self, db: Database) -> None:
        customer = make_customer(db)
        with db.unit_of_work() as session:
            ticket = ticket_service.create_ticket(session, customer.actor, title="t", description="d")
        rows = job_rows(db, "tickets.created")
        assert [(r.payload, r.status, r.attempts) for r in rows] == [
            ({"ticket_id": ticket.id}, JobStatus.QUEUED, 0)
        ]

    def test_rolled_back_change_enqueues_nothing(self, db: Database) -> None:
        customer = make_customer(db)
        with pytest.raises(RuntimeError), db.unit_of_work() as session:
            ticket_service.create_ticket(session, customer.actor, title="t", description="d")
            jobs.enqueue(session, RECORD({"n": 1}))
            raise RuntimeError("the request failed after the change")
        assert job_rows(db) == []

    def test_refused_request_enqueues_nothing(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        ticket = api_ticket(client, make_customer(db), department="technical")
        before = len(job_rows(db))
        refused = client.put(
            f"/api/v1/tickets/{ticket['id']}/status", json={"status": "resolved"}, headers=agent.headers
        )
        assert refused.status_code == 409
        assert len(job_rows(db)) == before
        accepted = client.put(
            f"/api/v1/tickets/{ticket['id']}/status", json={"status": "on_hold"}, headers=agent.headers
        )
        assert accepted.status_code == 200
        assert [r.payload for r in job_rows(db, "tickets.status_changed")] == [
            {"ticket_id": ticket["id"], "status": "on_hold", "actor_id": agent.id}
        ]


class TestCompetingWorkers:
    def test_each_committed_job_runs_exactly_once(self, db: Database, recorder: Recorder) -> None:
        count = 40
        enqueue(db, *range(count))
        workers = [Worker(db, name=f"worker-{i}", batch_size=3, retry_base_seconds=0) for i in range(2)]
        together([worker.run_until_idle for worker in workers])
        assert recorder.calls == Counter(range(count))
        assert effects(db) == Counter(f"job:{n}" for n in range(count))
        rows = job_rows(db, JOB)
        assert {r.status for r in rows} == {JobStatus.DONE}
        assert {r.attempts for r in rows} == {1}
        assert all(r.finished_at is not None for r in rows)
        assert {r.locked_by for r in rows} <= {"worker-0", "worker-1"}


class TestRefusedJobs:
    """A job nobody can run is parked as dead with the reason, never marked done as if it had run
    (issue 14 B.2); the jobs beside it run as usual."""

    def test_a_job_without_handler_is_parked_as_dead(self, db: Database, recorder: Recorder) -> None:
        with db.unit_of_work() as session:
            jobs.enqueue(session, NOBODY_LISTENS({"n": 1}))
        enqueue(db, 2)
        Worker(db).run_until_idle()
        [row] = job_rows(db, NOBODY_LISTENS.name)
        assert (row.status, row.attempts) == (JobStatus.DEAD, 1)
        assert row.last_error == "no handler for job 'tests.outbox.nobody_listens'"
        assert row.finished_at is not None and row.locked_until is None
        assert [r.status for r in job_rows(db, JOB)] == [JobStatus.DONE]
        assert recorder.calls == Counter({2: 1})

    def test_a_parked_job_runs_once_retried_with_a_handler(self, db: Database) -> None:
        with db.unit_of_work() as session:
            parked = jobs.enqueue(session, NOBODY_LISTENS({"n": 4}))
            session.flush()
            job_id = parked.id
        Worker(db).run_until_idle()
        heard: list[int] = []
        job(NOBODY_LISTENS)(lambda session, payload: heard.append(payload["n"]))
        try:
            with db.unit_of_work() as session:
                jobs.retry_job(session, job_id)
            Worker(db).run_until_idle()
        finally:
            unregister(NOBODY_LISTENS.name)
        assert heard == [4]
        [row] = job_rows(db, NOBODY_LISTENS.name)
        assert (row.status, row.last_error) == (JobStatus.DONE, None)

    def test_a_job_of_a_name_nobody_declares_is_parked(self, db: Database) -> None:
        """A row an older version wrote, for an event that is gone."""
        with db.unit_of_work() as session:
            session.add(Job(name="tests.outbox.gone", payload={"ticket_id": 1}))
        Worker(db).run_until_idle()
        [row] = job_rows(db, "tests.outbox.gone")
        assert (row.status, row.last_error) == (JobStatus.DEAD, "no handler for job 'tests.outbox.gone'")

    def test_a_payload_that_does_not_fit_its_event_is_parked(self, db: Database, recorder: Recorder) -> None:
        with db.unit_of_work() as session:
            session.add(Job(name=JOB, payload={"m": 1}))
        Worker(db).run_until_idle()
        [row] = job_rows(db, JOB)
        assert row.status is JobStatus.DEAD
        assert row.last_error == (
            "payload of job 'tests.outbox.record' does not fit Numbered: missing n; unknown m"
        )
        assert recorder.calls == Counter()

    def test_enqueue_refuses_a_payload_that_does_not_fit(self, db: Database) -> None:
        with pytest.raises(PayloadMismatch, match="missing n; unknown m"), db.unit_of_work() as session:
            jobs.enqueue(session, RECORD({"m": 1}))  # type: ignore[typeddict-item]
        assert job_rows(db) == []

    def test_an_event_name_is_declared_once(self) -> None:
        with pytest.raises(ValueError, match="declared twice"):
            Event(JOB, Nothing)


class TestRetries:
    def test_failing_handler_is_retried_then_parked_as_dead(self, db: Database, recorder: Recorder) -> None:
        recorder.fail = True
        [job_id] = enqueue(db, 7, max_attempts=3)
        Worker(db, retry_base_seconds=0).run_until_idle()
        assert recorder.calls == Counter({7: 3})
        assert effects(db) == Counter(), "a failed attempt's writes are rolled back"
        [row] = job_rows(db, JOB)
        assert row.id == job_id
        assert row.status is JobStatus.DEAD
        assert row.attempts == 3
        assert row.finished_at is not None
        assert row.last_error is not None
        assert "boom 7" in row.last_error

    def test_failure_waits_for_the_backoff(self, db: Database, recorder: Recorder) -> None:
        recorder.fail = True
        enqueue(db, 1, max_attempts=5)
        Worker(db, retry_base_seconds=60).run_until_idle()
        [row] = job_rows(db, JOB)
        assert row.status is JobStatus.QUEUED
        assert row.attempts == 1
        assert row.run_after > now() + timedelta(seconds=30)

    def test_a_retry_that_succeeds_is_done(self, db: Database, recorder: Recorder) -> None:
        recorder.fail = True
        enqueue(db, 1, max_attempts=5)
        worker = Worker(db, retry_base_seconds=0)
        worker.run_once()
        recorder.fail = False
        worker.run_until_idle()
        [row] = job_rows(db, JOB)
        assert (row.status, row.attempts, row.last_error) == (JobStatus.DONE, 2, None)
        assert effects(db) == Counter({"job:1": 1})


class TestDeadJobsForAdmins:
    def test_admin_sees_dead_jobs_and_requeues_one(
        self, client: TestClient, db: Database, recorder: Recorder
    ) -> None:
        admin = make_admin(db)
        recorder.fail = True
        [job_id] = enqueue(db, 9, max_attempts=2)
        Worker(db, retry_base_seconds=0).run_until_idle()

        response = client.get("/api/v1/admin/jobs", headers=admin.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert [j["id"] for j in body["data"]] == [job_id]
        dead = body["data"][0]
        assert (dead["name"], dead["status"], dead["attempts"], dead["maxAttempts"]) == (JOB, "dead", 2, 2)
        assert dead["payload"] == {"n": 9}
        assert "boom 9" in dead["lastError"]
        assert body["pagination"]["total"] == 1
        assert body["counts"]["dead"] == 1

        retried = client.post(f"/api/v1/admin/jobs/{job_id}/retry", headers=admin.headers)
        assert retried.status_code == 200, retried.text
        assert (retried.json()["status"], retried.json()["attempts"]) == ("queued", 0)
        assert client.get("/api/v1/admin/jobs", headers=admin.headers).json()["data"] == []

        recorder.fail = False
        Worker(db, retry_base_seconds=0).run_until_idle()
        [row] = job_rows(db, JOB)
        assert row.status is JobStatus.DONE
        assert effects(db) == Counter({"job:9": 1})

    def test_filter_by_status(self, client: TestClient, db: Database, recorder: Recorder) -> None:
        admin = make_admin(db)
        enqueue(db, 1, 2)
        response = client.get("/api/v1/admin/jobs", params={"status": "queued"}, headers=admin.headers)
        assert [j["payload"]["n"] for j in response.json()["data"] if j["name"] == JOB] == [2, 1]

    def test_agent_is_403(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        listed = client.get("/api/v1/admin/jobs", headers=agent.headers)
        assert listed.status_code == 403
        assert listed.json()["error"]["code"] == "forbidden"
        assert client.post("/api/v1/admin/jobs/1/retry", headers=agent.headers).status_code == 403

    def test_retrying_an_unknown_job_is_404(self, client: TestClient, db: Database) -> None:
        response = client.post("/api/v1/admin/jobs/424242/retry", headers=make_admin(db).headers)
        assert response.status_code == 404
        assert set(response.json()["error"]) == {"code", "message", "details"}


class TestLeases:
    def test_expired_lease_is_taken_over_and_the_late_worker_commits_nothing(
        self, db: Database, recorder: Recorder
    ) -> None:
        [job_id] = enqueue(db, 5)
        crashed = Worker(db, name="crashed", lease_seconds=60)
        assert crashed.claim() == [job_id]  # ...and then the process hangs

        rescuer = Worker(db, name="rescuer", lease_seconds=60)
        assert rescuer.claim() == [], "a live lease is respected"
        with travel_to(now() + timedelta(seconds=61)):
            rescuer.run_until_idle()
        [row] = job_rows(db, JOB)
        assert (row.status, row.locked_by, row.attempts) == (JobStatus.DONE, "rescuer", 2)
        assert effects(db) == Counter({"job:5": 1})

        assert crashed.run_job(job_id) is False  # it wakes up and finishes its copy
        assert effects(db) == Counter({"job:5": 1}), "the late worker's writes are rolled back"
        [row] = job_rows(db, JOB)
        assert (row.status, row.locked_by) == (JobStatus.DONE, "rescuer")

    def test_late_failure_does_not_touch_a_job_taken_over(self, db: Database, recorder: Recorder) -> None:
        [job_id] = enqueue(db, 6)
        crashed = Worker(db, name="crashed", lease_seconds=60)
        crashed.claim()
        with travel_to(now() + timedelta(seconds=61)):
            Worker(db, name="rescuer", lease_seconds=60).run_until_idle()
        recorder.fail = True
        crashed.run_job(job_id)
        [row] = job_rows(db, JOB)
        assert (row.status, row.last_error) == (JobStatus.DONE, None)


STAGED_EVENT = Event("tests.outbox.staged", Numbered)
STAGED = STAGED_EVENT.name
PLAIN = Event("tests.outbox.plain", Nothing)


class StagedRecorder:
    """A staged handler: reads in its stage (and notes whether another connection could take the
    write lock meanwhile), then writes one row per call in the job's transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.others_could_write: list[bool] = []
        self.fail_in_stage = False

    def __call__(self, session: Session, payload: Numbered) -> Writes:
        session.scalar(select(Job.id).limit(1))  # the stage's own read transaction is open
        self.others_could_write.append(self._another_writer_gets_in())
        if self.fail_in_stage:
            raise RuntimeError("boom in the stage")

        def writes(session: Session) -> None:
            session.add(LoginAttempt(account=f"job:{payload['n']}", ip="worker", succeeded=True))

        return writes

    def _another_writer_gets_in(self) -> bool:
        """A request's write, made while the stage runs, on a connection of its own. On SQLite it
        does not wait for the lock (busy timeout 0): it fails at once if the stage holds it."""
        if self.db.dialect != "sqlite":
            with self.db.unit_of_work() as session:
                session.add(LoginAttempt(account="request", ip="request", succeeded=True))
            return True
        path = self.db.engine.url.database
        assert path
        connection = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
        except sqlite3.OperationalError as error:
            assert "locked" in str(error)
            return False
        finally:
            connection.close()
        return True


@pytest.fixture
def staged_recorder(db: Database) -> Iterator[StagedRecorder]:
    handler = StagedRecorder(db)
    staged(STAGED_EVENT)(handler)
    yield handler
    unregister(STAGED)


def enqueue_staged(db: Database, n: int) -> int:
    with db.unit_of_work() as session:
        item = jobs.enqueue(session, STAGED_EVENT({"n": n}))
        session.flush()
        return item.id


class TestStagedJobs:
    """Issue 13: a job that composes much and writes little (an event's 30 mails) reads first and
    holds a write transaction only for its writes; on SQLite requests are not kept waiting."""

    def test_requests_can_write_while_the_stage_reads(
        self, db: Database, staged_recorder: StagedRecorder
    ) -> None:
        enqueue_staged(db, 1)
        Worker(db, name="w").run_until_idle()
        assert staged_recorder.others_could_write == [True]
        assert effects(db) == Counter({"job:1": 1})
        [row] = job_rows(db, STAGED)
        assert row.status == JobStatus.DONE

    def test_a_plain_job_holds_the_write_lock_on_sqlite(self, db: Database) -> None:
        """What the stage avoids (and why the test above can fail)."""
        if db.dialect != "sqlite":
            pytest.skip("PostgreSQL has no database-wide write lock")
        staged_recorder = StagedRecorder(db)
        seen: list[bool] = []

        def plain(session: Session, payload: Nothing) -> None:
            session.scalar(select(Job.id).limit(1))
            seen.append(staged_recorder._another_writer_gets_in())

        job(PLAIN)(plain)
        try:
            with db.unit_of_work() as session:
                jobs.enqueue(session, PLAIN({}))
            Worker(db, name="w").run_until_idle()
        finally:
            unregister(PLAIN.name)
        assert seen == [False]

    def test_a_failing_stage_writes_nothing_and_is_retried(
        self, db: Database, staged_recorder: StagedRecorder
    ) -> None:
        enqueue_staged(db, 2)
        staged_recorder.fail_in_stage = True
        Worker(db, name="w").run_once()
        [row] = job_rows(db, STAGED)
        assert (row.status, row.attempts) == (JobStatus.QUEUED, 1)
        assert "boom in the stage" in (row.last_error or "")
        assert effects(db) == Counter()

    def test_a_late_worker_s_writes_are_rolled_back(
        self, db: Database, staged_recorder: StagedRecorder
    ) -> None:
        job_id = enqueue_staged(db, 3)
        crashed = Worker(db, name="crashed", lease_seconds=60)
        crashed.claim()
        with travel_to(now() + timedelta(seconds=61)):
            Worker(db, name="rescuer", lease_seconds=60).run_until_idle()
        assert crashed.run_job(job_id) is False
        assert effects(db) == Counter({"job:3": 1})

    def test_one_name_takes_one_kind_of_handler(self, staged_recorder: StagedRecorder) -> None:
        with pytest.raises(ValueError, match="registered twice"):
            job(STAGED_EVENT)(lambda session, payload: None)
