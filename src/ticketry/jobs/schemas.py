"""Jobs as admins see them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ticketry.core.schemas import Schema
from ticketry.jobs.models import JobStatus


class JobView(Schema):
    id: int
    name: str
    payload: dict[str, Any]
    status: JobStatus
    attempts: int
    max_attempts: int
    run_after: datetime
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
