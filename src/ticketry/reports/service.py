"""`GET /stats` and `GET /agents` (docs/product.md §3): computed in the database, scoped by visibility."""

from __future__ import annotations

import statistics
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, SQLColumnExpression, cast, func, select
from sqlalchemy.orm import Session

from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.core.clock import now
from ticketry.core.db import reading_every_ticket
from ticketry.core.recent import RecentAnswers
from ticketry.tickets.lifecycle import ACTIVE_STATUSES
from ticketry.tickets.models import Ticket
from ticketry.tickets.repository import ticket_visibility
from ticketry.users.models import Department, User
from ticketry.users.service import active_staff

DateColumn = SQLColumnExpression[datetime] | SQLColumnExpression[datetime | None]


@dataclass(frozen=True)
class Durations:
    count: int
    mean_seconds: float | None
    median_seconds: float | None


@dataclass(frozen=True)
class DayCount:
    day: date
    created: int
    resolved: int


@dataclass(frozen=True)
class Stats:
    period_from: datetime
    period_to: datetime
    total: int
    by_status: dict[str, int]
    by_priority: dict[str, int]
    by_department: dict[str, int]
    first_response: Durations
    resolution: Durations
    per_day: list[DayCount]


def _scope(actor: Actor) -> list[ColumnElement[bool]]:
    return [ticket_visibility(actor), Ticket.deleted_at.is_(None)]


def _seconds(session: Session, end: DateColumn, start: DateColumn) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _durations(
    session: Session,
    actor: Actor,
    end: DateColumn,
    start: DateColumn,
    window: tuple[datetime, datetime],
) -> Durations:
    seconds = _seconds(session, end, start)
    where = [*_scope(actor), end.is_not(None), end >= window[0], end < window[1]]
    if session.get_bind().dialect.name == "postgresql":
        count, mean, median = session.execute(
            select(func.count(), func.avg(seconds), func.percentile_cont(0.5).within_group(seconds)).where(
                *where
            )
        ).one()
        return Durations(
            count, float(mean) if mean is not None else None, float(median) if median is not None else None
        )
    values = [float(v) for v in session.scalars(select(seconds).where(*where))]
    if not values:
        return Durations(0, None, None)
    return Durations(len(values), statistics.fmean(values), statistics.median(values))


def _day(session: Session, column: DateColumn) -> ColumnElement[date]:
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


# `GET /stats` is exact as of when it was computed, at most this many seconds ago (twice that
# while a refresh is under way); docs/api.md says so.
STATS_MAX_AGE = 30.0


def visibility_key(actor: Actor) -> Hashable:
    """What `ticket_visibility(actor)` depends on: the same key, the same tickets."""
    if actor.can(Permission.TICKETS_VIEW_ALL):
        return ("all",)
    return (
        actor.user_id,
        actor.is_staff,
        actor.can(Permission.TICKETS_VIEW),
        actor.organization_id,
        actor.organization_shared,
        tuple(sorted(actor.department_ids)),
    )


_recent_stats: RecentAnswers[Stats] = RecentAnswers(max_age=STATS_MAX_AGE)


def stats(
    session: Session, actor: Actor, *, period_from: datetime | None, period_to: datetime | None
) -> Stats:
    """Counts are over every live ticket; times and trends over the period (default 30 days).
    Answered from a recent computation for the same visibility and period (`STATS_MAX_AGE`)."""
    require(actor, Permission.STATS_VIEW)
    key = (visibility_key(actor), period_from, period_to)
    return _recent_stats.get(
        session, key, lambda: _compute_stats(session, actor, period_from=period_from, period_to=period_to)
    )


def _compute_stats(
    session: Session, actor: Actor, *, period_from: datetime | None, period_to: datetime | None
) -> Stats:
    reading_every_ticket(session)
    end = period_to or now()
    start = period_from or end - timedelta(days=30)
    grouped = session.execute(
        select(Ticket.status, Ticket.priority, Ticket.department_id, func.count())
        .where(*_scope(actor))
        .group_by(Ticket.status, Ticket.priority, Ticket.department_id)
    ).all()
    names = {
        department_id: name for department_id, name in session.execute(select(Department.id, Department.name))
    }
    by_status: dict[str, int] = {}
    by_priority: dict[str, int] = {}
    by_department: dict[str, int] = {}
    for status, priority, department_id, count in grouped:
        by_status[status.value] = by_status.get(status.value, 0) + count
        by_priority[priority.value] = by_priority.get(priority.value, 0) + count
        name = names.get(department_id, str(department_id))
        by_department[name] = by_department.get(name, 0) + count
    return Stats(
        period_from=start,
        period_to=end,
        total=sum(by_status.values()),
        by_status=by_status,
        by_priority=by_priority,
        by_department=by_department,
        first_response=_durations(session, actor, Ticket.first_response_at, Ticket.created_at, (start, end)),
        resolution=_durations(session, actor, Ticket.resolved_at, Ticket.created_at, (start, end)),
        per_day=_per_day(session, actor, start, end),
    )


def _per_day(session: Session, actor: Actor, start: datetime, end: datetime) -> list[DayCount]:
    counts: dict[str, list[int]] = {}
    for index, column in enumerate((Ticket.created_at, Ticket.resolved_at)):
        day = _day(session, column)
        rows = session.execute(
            select(day, func.count()).where(*_scope(actor), column >= start, column < end).group_by(day)
        )
        for value, count in rows:
            counts.setdefault(str(value), [0, 0])[index] = count
    return [
        DayCount(day=date.fromisoformat(key), created=pair[0], resolved=pair[1])
        for key, pair in sorted(counts.items())
    ]


@dataclass(frozen=True)
class AgentLoad:
    user: User
    open_tickets: int


def agent_workload(session: Session, actor: Actor) -> list[AgentLoad]:
    """Every active agent and admin with the number of active tickets assigned to them."""
    require(actor, Permission.STATS_VIEW)
    load = (
        select(Ticket.assignee_id, func.count().label("n"))
        # Only assigned tickets: the assignee index answers this without reading unassigned work.
        .where(*_scope(actor), Ticket.assignee_id.is_not(None), Ticket.status.in_(sorted(ACTIVE_STATUSES)))
        .group_by(Ticket.assignee_id)
        .subquery()
    )
    staff = active_staff(
        select(User, func.coalesce(load.c.n, 0)).outerjoin(load, load.c.assignee_id == User.id)
    )
    rows = session.execute(staff.order_by(User.name)).all()
    return [AgentLoad(user=user, open_tickets=int(count)) for user, count in rows]
