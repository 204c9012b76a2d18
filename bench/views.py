"""`python -m bench.views` (part of `make bench`): the desk sidebar's live counts at 1M tickets
(issue 6 part 4, "views in the sidebar with live counts that stay fast at 1M tickets").

Seeds (or, with `--reuse`, reuses) the load benchmark's database, saves ten typical views for
the bench admin and the bench agent, then times what every desk list page does for its sidebar:
the built-in views' counts (`search.view_counts`) with the list of saved views, and the saved
views' counts (`search.views.count_views`, which the page fetches after it has loaded, within a
300 ms budget), in process, through the real code. Prints the median and slowest
of `--runs` rounds per view and for the whole sidebar. Nothing is asserted (docs/architecture.md §7); the
views are deleted again at the end.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session

from bench import data
from bench.__main__ import PG_URL, prepare, with_database
from bench.facts import load_average, warn_if_busy
from ticketry.auth import service as auth_service
from ticketry.auth.actor import Actor
from ticketry.core.clock import now
from ticketry.core.db import Database
from ticketry.search import service as search
from ticketry.search import views as saved_views
from ticketry.search.models import SavedView
from ticketry.users.models import User

# Name -> desk query string: the filters agents keep (issue 6 part 4).
VIEWS = {
    "Open urgent": "view=open&priority=urgent",
    "High+urgent billing": "view=all&priority=high&priority=urgent&department=billing",
    "Tag tag3": "view=all&tag=tag3",
    "Tag tag1 or tag2": "view=all&tag=tag1&tag=tag2&tag_mode=any",
    "Unassigned technical": "view=all&assignee=none&department=technical",
    "Assigned to me": "view=mine",
    "Watched by me": "view=watched",
    "Search 'invoice'": "view=all&q=invoice",
    "Created last 30 days": "view=all&created_from={month_ago}",
    "E-mail on hold": "view=all&source=email&status=on_hold",
}
TARGET_MS = 100.0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.views", description=__doc__)
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--tickets", type=int, help="tickets to seed (default 1,000,000 on PostgreSQL)")
    parser.add_argument("--database-url", help=f"default {PG_URL} or sqlite:////tmp/ticketry_bench_<N>.db")
    parser.add_argument("--reuse", action="store_true", help="use an already seeded database as it is")
    parser.add_argument("--runs", type=int, default=5, help="measured rounds (after one warm-up)")
    parser.add_argument("--seed", type=int, default=42, help="random seed of the data")
    parser.add_argument(
        "--explain", action="store_true", help="also print each saved view's count plan (EXPLAIN ANALYZE)"
    )
    args = parser.parse_args(argv)
    with_database(args)
    return args


def timed(function: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median and slowest milliseconds of `runs` calls after a warm-up."""
    function()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def measure(
    db: Database, email: str, runs: int, *, explain: bool = False
) -> tuple[list[tuple[str, float, float, str]], dict[str, list[str]]]:
    month_ago = (now() - timedelta(days=30)).date().isoformat()
    rows: list[tuple[str, float, float, str]] = []
    plans: dict[str, list[str]] = {}
    with db.unit_of_work() as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        actor = auth_service.actor_for(session, user)
        session.execute(delete(SavedView).where(SavedView.owner_id == actor.user_id))
        for name, query in VIEWS.items():
            saved_views.create_view(session, actor, name=name, query=query.format(month_ago=month_ago))
    try:
        with db.unit_of_work(write=False) as session:
            views = saved_views.list_views(session, actor)
            for view in views:
                median, worst = timed(partial(saved_views.count_views, session, actor, [view]), runs)
                [counted] = saved_views.count_views(session, actor, [view])
                rows.append((f"saved: {view.name}", median, worst, _badge(counted.count)))
                if explain:
                    plans[view.name] = plan_of(session, actor, view)
            median, worst = timed(partial(search.view_counts, session, actor), runs)
            rows.append(("built-in views (6 counts)", median, worst, ""))
            median, worst = timed(partial(_page_sidebar, session, actor), runs)
            rows.append(("PAGE LOAD: built-in counts + saved views", median, worst, ""))
            median, worst = timed(partial(saved_views.sidebar, session, actor, counted=True), runs)
            rows.append(("COUNTS REQUEST: 10 saved views", median, worst, ""))
    finally:
        with db.unit_of_work() as session:
            session.execute(delete(SavedView).where(SavedView.owner_id == actor.user_id))
    return rows, plans


def plan_of(session: Session, actor: Actor, view: SavedView) -> list[str]:
    """The plan of the statement that counts the view (the last `SELECT count(` it runs: before
    it, a full-text view runs its probes), caught as the real code sends it, without a budget."""
    sent: list[tuple[str, Any]] = []

    def catch(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if statement.lstrip().lower().startswith("select count("):
            sent.append((statement, parameters))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", catch)
    try:
        saved_views.count_views(session, actor, [view], budget_ms=600_000)
    finally:
        event.remove(engine, "before_cursor_execute", catch)
    if not sent:
        return ["(nothing counted: the filter does not read)"]
    statement, parameters = sent[-1]
    postgres = engine.dialect.name == "postgresql"
    prefix = "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " if postgres else "EXPLAIN QUERY PLAN "
    rows = session.connection().exec_driver_sql(prefix + statement, parameters)
    return [str(row[0] if postgres else row[-1]) for row in rows]


def _page_sidebar(session: Session, actor: Actor) -> None:
    """The built-in views' counts, which `GET /desk/views/counts` computes right after a desk
    list page has loaded, together with the saved views' counts (a live refresh does both)."""
    search.view_counts(session, actor)
    saved_views.sidebar(session, actor, counted=False)


def _badge(count: int | None) -> str:
    if count is None:
        return "-"
    return f"{search.VIEW_COUNT_CAP // 1000}k+" if count >= search.VIEW_COUNT_CAP else f"{count:,}"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    facts = prepare(args)
    load_start = warn_if_busy("the run")
    db = Database.connect(args.database_url, pool_size=2)
    try:
        print(
            f"\nSidebar counts on {args.backend}, {facts['tickets']:,} tickets "
            f"(median / slowest of {args.runs} rounds; counts capped at {search.VIEW_COUNT_CAP:,}):"
        )
        for who, email in (("admin", data.ADMIN_EMAIL), ("agent (2 departments)", data.AGENT_EMAIL)):
            print(f"\n  as the {who}")
            warn_if_busy(f"the {who}'s views")
            print(f"  {'view':<42} {'median ms':>10} {'slowest ms':>11} {'count':>8}")
            rows, plans = measure(db, email, args.runs, explain=args.explain)
            for name, median, worst, count in rows:
                flag = "" if median <= TARGET_MS or not name.startswith("PAGE") else "  (over 100 ms)"
                print(f"  {name:<42} {median:>10.1f} {worst:>11.1f} {count:>8}{flag}")
            for name, lines in plans.items():
                print(f"\n  plan of {name!r}:")
                print("\n".join(f"    {line}" for line in lines))
    finally:
        db.dispose()
    print(f"\nLoad average {load_start[0]:.2f} at the start of the run, {load_average()[0]:.2f} at the end.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
