"""The admin dashboard's numbers as chart geometry: which chart shows what, with which labels and
units. Presentation only; the numbers come from `reports.dashboard`, the geometry from
`reports.charts`, and the templates in `partials/charts.html` draw it."""

from __future__ import annotations

from ticketry.reports import charts
from ticketry.reports.dashboard import Dashboard
from ticketry.tickets.models import STATUS_LABELS

# Chart widths in SVG units, close to their width on a desktop screen so text stays ~12px.
WIDE, NARROW = 940, 450


def _hours(seconds: float | None) -> float:
    return (seconds or 0.0) / 3600


def dashboard_charts(board: Dashboard) -> dict[str, charts.BarChart | charts.LineChart]:
    """The dashboard's numbers as chart geometry (presentation only: labels and units)."""
    stats = board.stats
    return {
        "trend": charts.line_chart(
            "Tickets created and resolved per day",
            [day.day.isoformat() for day in board.per_day],
            [
                ("Created", [float(day.created) for day in board.per_day]),
                ("Resolved", [float(day.resolved) for day in board.per_day]),
            ],
            axis_labels=[day.day.strftime("%b %d") for day in board.per_day],
            width=WIDE,
        ),
        "status": charts.bar_chart(
            "Open tickets by status",
            [(STATUS_LABELS[s], float(n)) for s, n in board.open_by_status],
            width=NARROW,
        ),
        "priority": charts.bar_chart(
            "Open tickets by priority",
            [(p.value.title(), float(n)) for p, n in board.open_by_priority],
            width=NARROW,
        ),
        "department": charts.bar_chart(
            "Open tickets by department",
            [(name, float(n)) for name, n in board.open_by_department],
            width=NARROW,
        ),
        "times": charts.bar_chart(
            "Response and resolution times (hours)",
            [
                ("First response, median", _hours(stats.first_response.median_seconds)),
                ("First response, mean", _hours(stats.first_response.mean_seconds)),
                ("Resolution, median", _hours(stats.resolution.median_seconds)),
                ("Resolution, mean", _hours(stats.resolution.mean_seconds)),
            ],
            fmt=charts.hours_text,
            integers=False,
            width=WIDE,
        ),
        "workload": charts.bar_chart(
            "Open tickets per agent",
            [(load.user.name, float(load.open_tickets)) for load in board.workload],
            width=NARROW,
        ),
    }
