"""Reference data, stats, agents and health."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter, Request

from ticketry.core.pagination import ListPage
from ticketry.core.schemas import Schema
from ticketry.http.deps import CurrentActor, DbSession, database
from ticketry.reports import service as reports
from ticketry.tickets import lifecycle
from ticketry.tickets import service as ticket_service
from ticketry.tickets.models import Priority, TicketStatus
from ticketry.tickets.schemas import CategoryView, PriorityInfo, StatusInfo
from ticketry.users import service as user_service
from ticketry.users.schemas import DepartmentView

router = APIRouter(tags=["reference"])


@router.get("/departments", response_model=ListPage[DepartmentView])
def departments(session: DbSession, actor: CurrentActor) -> ListPage[DepartmentView]:
    return ListPage[DepartmentView].of(
        [DepartmentView.model_validate(d) for d in user_service.list_departments(session)]
    )


@router.get("/categories", response_model=ListPage[CategoryView])
def categories(session: DbSession, actor: CurrentActor) -> ListPage[CategoryView]:
    return ListPage[CategoryView].of(
        [CategoryView.model_validate(c) for c in ticket_service.list_categories(session)]
    )


@router.get("/priorities", response_model=ListPage[PriorityInfo])
def priorities(actor: CurrentActor) -> ListPage[PriorityInfo]:
    return ListPage[PriorityInfo].of([PriorityInfo(value=p, rank=i) for i, p in enumerate(Priority)])


@router.get("/statuses", response_model=ListPage[StatusInfo])
def statuses(actor: CurrentActor) -> ListPage[StatusInfo]:
    return ListPage[StatusInfo].of(
        [StatusInfo(value=s, allowed_next=list(lifecycle.allowed_targets(s))) for s in TicketStatus]
    )


class DurationsView(Schema):
    count: int
    mean_seconds: float | None
    median_seconds: float | None


class DayView(Schema):
    day: date
    created: int
    resolved: int


class StatsView(Schema):
    period_from: datetime
    period_to: datetime
    total: int
    by_status: dict[str, int]
    by_priority: dict[str, int]
    by_department: dict[str, int]
    first_response: DurationsView
    resolution: DurationsView
    per_day: list[DayView]


class AgentView(Schema):
    id: int
    name: str
    email: str
    role: str
    open_tickets: int


@router.get("/stats", response_model=StatsView, tags=["reports"])
def stats(
    session: DbSession,
    actor: CurrentActor,
    period_from: datetime | None = None,
    period_to: datetime | None = None,
) -> StatsView:
    """Counts over every live ticket you can see; times and per-day trends over the period
    (default: the last 30 days). Computed at most 30 seconds ago (60 during a refresh)."""
    result = reports.stats(session, actor, period_from=period_from, period_to=period_to)
    return StatsView.model_validate(result)


@router.get("/agents", response_model=ListPage[AgentView], tags=["reports"])
def agents(session: DbSession, actor: CurrentActor) -> ListPage[AgentView]:
    return ListPage[AgentView].of(
        [
            AgentView(
                id=a.user.id,
                name=a.user.name,
                email=a.user.email,
                role=a.user.role.value,
                open_tickets=a.open_tickets,
            )
            for a in reports.agent_workload(session, actor)
        ]
    )


class Health(Schema):
    status: str
    database: str


@router.get("/health", response_model=Health, tags=["health"])
def health(request: Request) -> Health:
    """200 when the database answers; 503 otherwise."""
    db = database(request)
    db.ping()
    return Health(status="ok", database=db.dialect)
