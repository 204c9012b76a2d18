"""The admin's job queue page (issue 14 D.6): queued, running, done and dead jobs filtered by
state, a retry for a dead one (a plain form with CSRF, like every admin form), refusals for
everyone without `admin:jobs`; and the warning admins see while outgoing mail is not configured."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from tests.conftest import MakeClient
from tests.factories import Persona, make_admin, make_agent, make_customer
from tests.mail_admin import Browser, flash

from ticketry.core.clock import now
from ticketry.core.db import Database
from ticketry.jobs.models import Job, JobStatus

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "tasks.py", line 12, in send\n'
    "ConnectionRefusedError: [Errno 111] Connection refused\n"
)


def make_job(
    db: Database,
    name: str,
    *,
    status: JobStatus = JobStatus.DEAD,
    attempts: int = 8,
    last_error: str | None = TRACEBACK,
) -> int:
    """A job row as the worker leaves it after running it `attempts` times (the row, not an
    enqueued event: the page shows whatever the table holds, known names or not)."""
    running = status is JobStatus.RUNNING
    with db.unit_of_work() as session:
        job = Job(
            name=name,
            payload={"ticket_id": 42},
            status=status,
            attempts=attempts,
            max_attempts=8,
            run_after=now(),
            last_error=last_error,
            finished_at=now() if status in (JobStatus.DEAD, JobStatus.DONE) else None,
            locked_by="worker-1" if running else None,
            locked_until=now() + timedelta(minutes=5) if running else None,
        )
        session.add(job)
        session.flush()
        return job.id


def job_row(db: Database, job_id: int) -> Job:
    with db.unit_of_work(write=False) as session:
        job = session.get(Job, job_id)
        assert job is not None
        return job


def retry_button(job_id: int) -> str:
    return f'action="/admin/jobs/{job_id}/retry"'


class TestAccess:
    @pytest.mark.parametrize("maker", [make_agent, make_customer])
    def test_the_page_is_forbidden_to_agents_and_customers(
        self, client: TestClient, db: Database, maker: Callable[[Database], Persona]
    ) -> None:
        make_job(db, "mail.hiddenjob")
        browser = Browser(client, db, maker(db))
        for path in ("/admin/jobs", "/admin/jobs?state=all"):
            response = browser.client.get(path, follow_redirects=False)
            assert response.status_code == 403, path
            assert "Not allowed" in response.text
            assert "hiddenjob" not in response.text

    @pytest.mark.parametrize("maker", [make_agent, make_customer])
    def test_a_retry_posted_by_others_changes_nothing(
        self, client: TestClient, db: Database, maker: Callable[[Database], Persona]
    ) -> None:
        job_id = make_job(db, "mail.send")
        browser = Browser(client, db, maker(db))
        page = browser.post(f"/admin/jobs/{job_id}/retry", back="/account/password")
        assert flash(page).startswith("error: ")  # refused by `require(admin:jobs)`, in its words
        assert (job_row(db, job_id).status, job_row(db, job_id).attempts) == (JobStatus.DEAD, 8)

    def test_signed_out_visitors_are_sent_to_sign_in(self, client: TestClient) -> None:
        response = client.get("/admin/jobs", follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/login?next=/admin/jobs")

    def test_a_retry_without_the_csrf_token_is_refused(self, client: TestClient, db: Database) -> None:
        job_id = make_job(db, "mail.send")
        browser = Browser(client, db, make_admin(db))
        response = browser.client.post(f"/admin/jobs/{job_id}/retry", follow_redirects=False)
        assert response.status_code == 303
        assert "CSRF" in flash(browser.client.get(response.headers["location"]).text)
        assert job_row(db, job_id).status is JobStatus.DEAD


class TestList:
    def test_the_admin_navigation_links_the_page(self, client: TestClient, db: Database) -> None:
        browser = Browser(client, db, make_admin(db))
        for path in ("/admin", "/admin/users", "/admin/jobs"):
            assert '<a href="/admin/jobs"' in browser.get(path), path
        assert '<a href="/admin/jobs" aria-current="page">Jobs</a>' in browser.get("/admin/jobs")

    def test_dead_jobs_by_default_with_attempts_error_and_a_retry(
        self, client: TestClient, db: Database
    ) -> None:
        dead = make_job(db, "mail.send")
        queued = make_job(db, "notifications.queuedjob", status=JobStatus.QUEUED, attempts=2)
        browser = Browser(client, db, make_admin(db))
        page = browser.get("/admin/jobs")
        assert "mail.send" in page and "notifications.queuedjob" not in page
        assert "8 of 8" in page
        assert "ConnectionRefusedError: [Errno 111] Connection refused</summary>" in page
        assert "line 12, in send" in page  # the whole traceback, on demand
        assert retry_button(dead) in page and retry_button(queued) not in page
        assert "1 job dead (failed for good)" in page

    @pytest.mark.parametrize(
        ("state", "shown"),
        [
            ("queued", {"jobs.queuedjob"}),
            ("running", {"jobs.runningjob"}),
            ("done", {"jobs.donejob"}),
            ("dead", {"jobs.deadjob"}),
            ("all", {"jobs.queuedjob", "jobs.runningjob", "jobs.donejob", "jobs.deadjob"}),
        ],
    )
    def test_the_state_filter(self, client: TestClient, db: Database, state: str, shown: set[str]) -> None:
        ids = {
            "jobs.queuedjob": make_job(db, "jobs.queuedjob", status=JobStatus.QUEUED, attempts=1),
            "jobs.runningjob": make_job(db, "jobs.runningjob", status=JobStatus.RUNNING, attempts=1),
            "jobs.donejob": make_job(db, "jobs.donejob", status=JobStatus.DONE, attempts=1, last_error=None),
            "jobs.deadjob": make_job(db, "jobs.deadjob"),
        }
        browser = Browser(client, db, make_admin(db))
        page = browser.get(f"/admin/jobs?state={state}")
        assert {name for name in ids if name in page} == shown
        assert f'<a href="/admin/jobs?state={state}" aria-current="page">' in page
        # Retry is offered for dead jobs only, whichever filter shows them.
        assert {name for name, job_id in ids.items() if retry_button(job_id) in page} == shown & {
            "jobs.deadjob"
        }

    def test_the_filter_shows_how_many_jobs_each_state_has(self, client: TestClient, db: Database) -> None:
        for _ in range(3):
            make_job(db, "jobs.x", status=JobStatus.QUEUED, attempts=0)
        make_job(db, "jobs.y")
        page = Browser(client, db, make_admin(db)).get("/admin/jobs")
        assert 'Queued <span class="count">3</span>' in page
        assert 'Dead (failed for good) <span class="count">1</span>' in page
        assert 'Running <span class="count">0</span>' in page
        assert 'All <span class="count">4</span>' in page

    def test_nothing_dead_says_so(self, client: TestClient, db: Database) -> None:
        make_job(db, "jobs.fine", status=JobStatus.DONE, attempts=1, last_error=None)
        page = Browser(client, db, make_admin(db)).get("/admin/jobs")
        assert "No dead jobs: nothing has failed for good." in page

    def test_an_unknown_state_is_a_clear_422(self, client: TestClient, db: Database) -> None:
        browser = Browser(client, db, make_admin(db))
        for state in ("exploded", "DEAD", "%00"):
            response = browser.client.get(f"/admin/jobs?state={state}")
            assert response.status_code == 422, state
            assert "<p>Please check: state" in response.text, response.text

    def test_pages_of_fifty(self, client: TestClient, db: Database) -> None:
        for n in range(51):
            make_job(db, f"jobs.n{n:02d}")
        browser = Browser(client, db, make_admin(db))
        first, second = browser.get("/admin/jobs"), browser.get("/admin/jobs?page=2")
        assert "jobs.n50" in first and "jobs.n00" not in first  # newest first
        assert "jobs.n00" in second and "Page 2 of 2" in second


class TestRetry:
    def test_retry_puts_a_dead_job_back_in_the_queue(self, client: TestClient, db: Database) -> None:
        job_id = make_job(db, "mail.send")
        browser = Browser(client, db, make_admin(db))
        page = browser.post(f"/admin/jobs/{job_id}/retry", back="/admin/jobs")
        assert (
            flash(page) == f"success: Job {job_id} (mail.send) is queued again, with a fresh set of attempts."
        )
        assert retry_button(job_id) not in page  # back on the dead list, where it is no more
        job = job_row(db, job_id)
        assert (job.status, job.attempts) == (JobStatus.QUEUED, 0)
        assert job.run_after <= now()
        assert "mail.send" in browser.get("/admin/jobs?state=queued")

    def test_only_a_dead_job_can_be_retried(self, client: TestClient, db: Database) -> None:
        job_id = make_job(db, "mail.send", status=JobStatus.RUNNING, attempts=1)
        browser = Browser(client, db, make_admin(db))
        page = browser.post(f"/admin/jobs/{job_id}/retry", back="/admin/jobs?state=running")
        assert flash(page) == "error: Only dead jobs can be retried; this one is running."
        job = job_row(db, job_id)
        assert (job.status, job.attempts, job.locked_by) == (JobStatus.RUNNING, 1, "worker-1")

    def test_an_unknown_job_is_refused(self, client: TestClient, db: Database) -> None:
        browser = Browser(client, db, make_admin(db))
        page = browser.post("/admin/jobs/999999/retry", back="/admin/jobs")
        assert flash(page) == "error: Job 999999 does not exist."


WARNING = "Outgoing mail is not configured."


class TestMailWarning:
    def test_admins_are_warned_where_they_land_while_no_smtp_server_is_set(
        self, client: TestClient, db: Database
    ) -> None:
        browser = Browser(client, db, make_admin(db))
        for path in ("/desk", "/admin"):
            page = browser.get(path)
            assert WARNING in page, path
            assert "TICKETRY_SMTP_HOST" in page
            assert 'href="/admin/mail?direction=outbound&amp;status=not_sent"' in page

    def test_agents_are_not_shown_it(self, client: TestClient, db: Database) -> None:
        browser = Browser(client, db, make_agent(db))
        assert WARNING not in browser.get("/desk")

    def test_no_warning_once_a_server_is_set(self, make_client: MakeClient, db: Database) -> None:
        client = make_client(smtp_host="127.0.0.1", smtp_port=2525)
        browser = Browser(client, db, make_admin(db))
        for path in ("/desk", "/admin"):
            assert WARNING not in browser.get(path), path
