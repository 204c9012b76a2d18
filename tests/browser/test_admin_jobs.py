"""The admin's job queue in a real browser (issue 14 D.6): from the desk, with the mouse, to the
admin dashboard and through the admin navigation to the jobs page, and a dead job retried with
its button; on a desktop and on a phone, with no serious axe-core finding on the page. Both
landing pages warn that no mail is sent (the test server has no SMTP server)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import Browsing, Server, shoot
from tests.browser.test_accessibility import _axe
from ticketry.core.clock import now
from ticketry.jobs.models import Job, JobStatus

SHOTS = Path("/tmp/shots")  # noqa: S108 - where the lead collects screenshots
SIZES = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def dead_job(server: Server) -> int:
    """A send that failed for good; run again it has nothing to send and completes."""
    with server.db.unit_of_work() as session:
        job = Job(
            name="mail.send",
            payload={"mail_log_ids": []},
            status=JobStatus.DEAD,
            attempts=8,
            max_attempts=8,
            run_after=now() - timedelta(hours=1),
            finished_at=now() - timedelta(minutes=5),
            last_error="Traceback (most recent call last):\nTimeoutError: the SMTP server did not answer",
        )
        session.add(job)
        session.flush()
        return job.id


@pytest.mark.parametrize("size", list(SIZES))
def test_admin_clicks_to_the_jobs_page_and_retries_a_dead_job(
    browsing: Browsing, server: Server, axe_source: str, size: str
) -> None:
    admin = server.admin()
    job_id = dead_job(server)
    context = browsing.browser.new_context(base_url=server.url, viewport=SIZES[size])
    browsing.contexts.append(context)
    page = browsing.page(admin, context=context)  # signed in, on the desk
    SHOTS.mkdir(parents=True, exist_ok=True)
    for where in ("desk", "dashboard"):
        expect(page.locator(".mail-warning")).to_contain_text("Outgoing mail is not configured")
        page.screenshot(
            path=str(SHOTS / f"mail-warning-{where}-{size}-{server.backend}.png"), caret="initial"
        )
        if where == "desk":
            page.get_by_role("link", name="Admin", exact=True).click()
            expect(page).to_have_url(f"{server.url}/admin")

    page.get_by_role("navigation", name="Administration").get_by_role("link", name="Jobs").click()
    expect(page).to_have_url(f"{server.url}/admin/jobs")
    expect(page.get_by_role("heading", level=1)).to_have_text("Jobs")
    row = page.locator(f"#job-{job_id}")
    expect(row).to_contain_text("mail.send")
    expect(row).to_contain_text("8 of 8")
    expect(row).to_contain_text("TimeoutError: the SMTP server did not answer")
    shoot(page, server, f"admin-jobs-{size}")
    serious = [v for v in _axe(page, axe_source) if v["impact"] in ("serious", "critical")]
    assert not serious, serious
    page.screenshot(
        path=str(SHOTS / f"admin-jobs-{size}-{server.backend}.png"), full_page=True, caret="initial"
    )

    row.get_by_role("button", name="Retry").click()
    expect(page.locator(".flash")).to_contain_text(f"Job {job_id} (mail.send) is queued again")
    expect(page.locator(f"#job-{job_id}")).to_have_count(0)
    page.screenshot(
        path=str(SHOTS / f"admin-jobs-retried-{size}-{server.backend}.png"), full_page=True, caret="initial"
    )
    with server.db.unit_of_work(write=False) as session:
        job = session.get(Job, job_id)
        assert job is not None
        assert job.status is not JobStatus.DEAD
        assert job.attempts <= 1  # a fresh set: none, or the one the worker has just made
