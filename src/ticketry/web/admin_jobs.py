"""The admin's job queue (`/admin/jobs`): queued, running, done and dead jobs (those that failed
for good), filtered by state, and a retry for a dead one. The same use cases as the API
(`GET /api/v1/admin/jobs`, `POST /api/v1/admin/jobs/{id}/retry`), behind the same permission,
`admin:jobs`: the jobs package sits below auth and cannot ask who is calling, so the check is
here, as it is in the API route."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from ticketry.auth.actor import require
from ticketry.auth.permissions import Permission
from ticketry.core.pagination import PageRequest
from ticketry.http.deps import DbSession, PathId
from ticketry.jobs import service as job_service
from ticketry.jobs.models import JobStatus
from ticketry.web.session import SignedIn
from ticketry.web.templating import render, set_flash

router = APIRouter(prefix="/admin", include_in_schema=False)

# The filter's choices, in the order an admin looks for trouble; "all" is every state.
STATES = (JobStatus.DEAD, JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.DONE)
STATE_LABELS = {
    JobStatus.DEAD: "Dead (failed for good)",
    JobStatus.QUEUED: "Queued",
    JobStatus.RUNNING: "Running",
    JobStatus.DONE: "Done",
}
# Badge colours, borrowed from the ticket statuses and priorities like the mail log's.
STATE_TONES = {
    JobStatus.DEAD: "priority-urgent",
    JobStatus.QUEUED: "status-open",
    JobStatus.RUNNING: "status-in_progress",
    JobStatus.DONE: "status-resolved",
}


@router.get("/jobs")
def jobs_page(
    request: Request,
    session: DbSession,
    who: SignedIn,
    state: Annotated[JobStatus | Literal["all"], Query()] = JobStatus.DEAD,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """Dead jobs first, as in the API: they are the ones that need an admin."""
    require(who.actor, Permission.ADMIN_JOBS)
    status = None if state == "all" else state
    found = job_service.list_jobs(session, status=status, page=PageRequest(page=page, page_size=50))
    context = {
        "page": found,
        "state": state,
        "states": STATES,
        "labels": STATE_LABELS,
        "tones": STATE_TONES,
        "counts": job_service.counts_by_status(session),
        "params": request.query_params,
        "section": "jobs",
    }
    return render(request, "admin/jobs.html", context, who=who)


@router.post("/jobs/{job_id}/retry")
def retry_job(session: DbSession, who: SignedIn, job_id: PathId) -> Response:
    require(who.actor, Permission.ADMIN_JOBS)
    job = job_service.retry_job(session, job_id)
    response = RedirectResponse("/admin/jobs", status_code=303)
    set_flash(response, f"Job {job.id} ({job.name}) is queued again, with a fresh set of attempts.")
    return response
