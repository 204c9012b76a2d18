"""The admin dashboard (issue: admin): what is open now by status, priority and department, how
fast the desk answers and resolves, tickets created vs resolved per day, and agent workload."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.core.clock import now
from ticketry.core.db import reading_every_ticket
from ticketry.core.errors import ValidationFailed
from ticketry.reports import service as reports
from ticketry.reports.service import AgentLoad, DayCount, Stats
from ticketry.tickets.lifecycle import ACTIVE_STATUSES
from ticketry.tickets.models import Priority, Ticket, TicketStatus
from ticketry.tickets.repository import ticket_visibility
from ticketry.users import service as users

MAX_DAYS = 366


@dataclass(frozen=True)
class Dashboard:
    days: int
    stats: Stats
    per_day: list[DayCount]
    open_by_status: list[tuple[TicketStatus, int]]
    open_by_priority: list[tuple[Priority, int]]
    open_by_department: list[tuple[str, int]]
    workload: list[AgentLoad]

    @property
    def open_total(self) -> int:
        return sum(count for _, count in self.open_by_status)

    @property
    def created_total(self) -> int:
        return sum(day.created for day in self.per_day)

    @property
    def resolved_total(self) -> int:
        return sum(day.resolved for day in self.per_day)


def overview(session: Session, actor: Actor, *, days: int = 30) -> Dashboard:
    """Open counts are of live tickets in an active status; times and trends cover the last
    `days` days, today included (UTC)."""
    require(actor, Permission.ADMIN_DASHBOARD)
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(f"Choose a period of 1 to {MAX_DAYS} days.", details={"days": days})
    end = now()
    first_day = end.date() - timedelta(days=days - 1)
    start = datetime.combine(first_day, time.min, tzinfo=UTC)
    reading_every_ticket(session)  # the open counts, whether or not the statistics are recent
    stats = reports.stats(session, actor, period_from=start, period_to=end)
    by_status, by_priority, by_department = _open_counts(session, actor)
    return Dashboard(
        days=days,
        stats=stats,
        per_day=_every_day(stats.per_day, first_day, days),
        open_by_status=[(s, by_status.get(s, 0)) for s in TicketStatus if s in ACTIVE_STATUSES],
        open_by_priority=[(p, by_priority.get(p, 0)) for p in Priority],
        open_by_department=[
            (d.name, by_department.get(d.id, 0))
            for d in users.list_departments(session, include_inactive=True)
            if d.is_active or by_department.get(d.id)
        ],
        workload=reports.agent_workload(session, actor),
    )


def _open_counts(
    session: Session, actor: Actor
) -> tuple[dict[TicketStatus, int], dict[Priority, int], dict[int, int]]:
    rows = session.execute(
        select(Ticket.status, Ticket.priority, Ticket.department_id, func.count())
        .where(
            ticket_visibility(actor),
            Ticket.deleted_at.is_(None),
            Ticket.status.in_(sorted(ACTIVE_STATUSES)),
        )
        .group_by(Ticket.status, Ticket.priority, Ticket.department_id)
    ).all()
    by_status: dict[TicketStatus, int] = {}
    by_priority: dict[Priority, int] = {}
    by_department: dict[int, int] = {}
    for status, priority, department_id, count in rows:
        by_status[status] = by_status.get(status, 0) + count
        by_priority[priority] = by_priority.get(priority, 0) + count
        by_department[department_id] = by_department.get(department_id, 0) + count
    return by_status, by_priority, by_department


def _every_day(counted: list[DayCount], first_day: date, days: int) -> list[DayCount]:
    """The days without tickets too, so the trend's x axis is time, not just busy days."""
    known = {day.day: day for day in counted}
    every = (first_day + timedelta(days=offset) for offset in range(days))
    return [known.get(day, DayCount(day=day, created=0, resolved=0)) for day in every]
