"""`python -m bench` (`make bench`): seed, serve, load, report. See bench/README.md."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import sqlite3
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg

from bench import data, facts, load, seed
from bench import server as proc
from bench.backlog import Drain, Queue, drain
from bench.server import Server
from ticketry.migrations import upgrade

RESULTS = Path(__file__).parent / "results"
PG_URL = "postgresql://postgres@127.0.0.1:5432/ticketry_bench"
DEFAULT_TICKETS = {"postgresql": 1_000_000, "sqlite": 100_000}
# The floors have no target: what any request costs on this machine, the bound under the rest.
ORDER = (
    "floor",
    "floor_auth",
    "floor_page",
    "list",
    "detail",
    "search",
    "search_customer",
    "stats",
    "create",
    "reply",
    "desk",
    "page",
    "portal",
)
WRITES = frozenset({"create", "reply"})
# (figure, bound): p95 latency at most, or throughput at least (issue "load benchmark").
TARGETS = {
    "list": ("p95_ms", 50.0),
    "detail": ("p95_ms", 30.0),
    "search": ("p95_ms", 150.0),  # the mixed classes; each class has the same bound
    "search_customer": ("p95_ms", 150.0),
    "stats": ("p95_ms", 300.0),
    "create": ("throughput_per_s", 400.0),
    "reply": ("throughput_per_s", 400.0),
    # Pages of the web UI (issue "Web UI", part 9): desk list, desk ticket page, portal list.
    "desk": ("p95_ms", 100.0),
    "page": ("p95_ms", 100.0),
    "portal": ("p95_ms", 100.0),
}


def with_database(args: argparse.Namespace) -> None:
    """`--tickets` and `--database-url` as given, or the backend's defaults (every benchmark on
    the load benchmark's database takes these two)."""
    args.tickets = args.tickets or DEFAULT_TICKETS[args.backend]
    if not args.database_url:
        args.database_url = (
            PG_URL if args.backend == "postgresql" else f"sqlite:////tmp/ticketry_bench_{args.tickets}.db"
        )


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description="Seed a large helpdesk, serve it, drive it, print figures."
    )
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument(
        "--tickets", type=int, help="tickets to seed (default 1,000,000 on PostgreSQL, 100,000 on SQLite)"
    )
    parser.add_argument("--database-url", help=f"default {PG_URL} or sqlite:////tmp/ticketry_bench_<N>.db")
    parser.add_argument("--reuse", action="store_true", help="use an already seeded database as it is")
    parser.add_argument("--seed-only", action="store_true", help="seed, then stop")
    parser.add_argument(
        "--scenarios", default=",".join(ORDER), help=f"comma-separated subset of {','.join(ORDER)}"
    )
    parser.add_argument("--seconds", type=float, default=15.0, help="measured time per scenario")
    parser.add_argument("--max-requests", type=int, default=20_000, help="operations per scenario at most")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds before each scenario")
    parser.add_argument("--concurrency", type=int, default=16, help="concurrent HTTP connections")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument(
        "--as-admin", action="store_true", help="read as the admin instead of a department agent"
    )
    parser.add_argument("--seed", type=int, default=42, help="random seed of the data")
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=300.0,
        help="after a write scenario, wait at most this many seconds for the job backlog to clear (300)",
    )
    args = parser.parse_args(argv)
    with_database(args)
    unknown = set(args.scenarios.split(",")) - set(ORDER)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return args


def prepare(args: argparse.Namespace) -> dict[str, object]:
    postgres = args.backend == "postgresql"
    exists = seed.pg_database_exists if postgres else seed.sqlite_database_exists
    counts = seed.pg_counts if postgres else seed.sqlite_counts
    if args.reuse and exists(args.database_url):
        # Like a user after an upgrade: `ticketry migrate` first (newer migrations, new indexes).
        started = time.perf_counter()
        upgrade(args.database_url)
        tickets, messages = counts(args.database_url)
        print(
            f"Reusing {args.database_url}: {tickets:,} tickets, {messages:,} messages (not reseeded; "
            f"migrated to head in {time.perf_counter() - started:.1f} s)."
        )
        return {"reused": True, "tickets": tickets, "messages": messages}
    print(f"Seeding {args.tickets:,} tickets x 5 messages into {args.database_url} ...")
    plan = data.Plan(tickets=args.tickets, seed=args.seed)
    result = (seed.seed_postgres if postgres else seed.seed_sqlite)(args.database_url, plan)
    print(f"Seeded {result.tickets:,} tickets and {result.messages:,} messages in {result.seconds:.0f} s.")
    return asdict(result)


@dataclass
class Sample:
    """What the scenarios pick from: tickets and search terms the readers may see."""

    readable: list[int]
    repliable: list[int]  # of those, the ones a reply does not change the status of
    numbers: list[str]  # ticket numbers of readable tickets
    emails: list[str]  # addresses of customers with readable tickets
    customer_numbers: list[str]  # numbers of the bench customer's own tickets


def sample(args: argparse.Namespace, staff_id: int, departments: tuple[int, ...]) -> Sample:
    """Random tickets the staff reader may see, and from them ticket numbers and customers'
    addresses to search for; the bench customer's own ticket numbers."""
    if args.as_admin:
        visible = "deleted_at IS NULL"
    else:
        marks = ", ".join(str(d) for d in departments)
        visible = (
            f"deleted_at IS NULL AND (department_id IN ({marks}) OR assignee_id = {staff_id}"
            f" OR id IN (SELECT ticket_id FROM ticket_watchers WHERE user_id = {staff_id}))"
        )
    queries = (
        f"SELECT id, number, customer_id FROM tickets WHERE {visible} ORDER BY random() LIMIT 20000",
        f"SELECT id FROM tickets WHERE {visible} AND status NOT IN ('open', 'closed')"
        " ORDER BY random() LIMIT 20000",
        f"SELECT number FROM tickets WHERE customer_id = {data.CUSTOMER_ID} AND deleted_at IS NULL"
        " ORDER BY random() LIMIT 10",
    )
    if args.backend == "postgresql":
        with psycopg.connect(seed._pg_conninfo(args.database_url)) as conn:
            readable, repliable, own = ([tuple(r) for r in conn.execute(q)] for q in queries)
            customers = [int(r[2]) for r in readable[:200]]
            emails = [
                str(r[0]) for r in conn.execute("SELECT email FROM users WHERE id = ANY(%s)", (customers,))
            ]
    else:
        with sqlite3.connect(seed.sqlite_path(args.database_url)) as conn:
            readable, repliable, own = ([tuple(r) for r in conn.execute(q)] for q in queries)
            customers = [int(r[2]) for r in readable[:200]]
            marks = ", ".join("?" * len(customers))
            emails = [
                str(r[0]) for r in conn.execute(f"SELECT email FROM users WHERE id IN ({marks})", customers)
            ]
    return Sample(
        readable=[int(r[0]) for r in readable],
        repliable=[int(r[0]) for r in repliable],
        numbers=[str(r[1]) for r in readable[:20]],
        emails=sorted(emails)[:20],
        customer_numbers=[str(r[0]) for r in own],
    )


def verdict(name: str, summary: dict[str, Any]) -> str:
    if name not in TARGETS:
        return "(floor: no target)"
    figure, bound = TARGETS[name]
    value = summary.get(figure)
    if not isinstance(value, int | float):
        return "n/a"
    met = value <= bound if figure.startswith("p95") else value >= bound
    unit = "ms p95" if figure.startswith("p95") else "/s"
    sign = "<=" if figure.startswith("p95") else ">="
    if summary.get("errors"):  # failed requests are often fast ones: the figure does not count
        return f"MISS {sign} {bound:g} {unit} ({summary['errors']} errors)"
    return f"{'MET ' if met else 'MISS'} {sign} {bound:g} {unit}"


def _cpu_per_op(row: dict[str, Any]) -> str:
    """Server + database CPU per operation, in ms ("12.3+4.1")."""
    server, database = row.get("server_cpu_ms_per_op"), row.get("database_cpu_ms_per_op")
    return "-" if server is None or database is None else f"{server:.1f}+{database:.1f}"


def print_table(rows: list[dict[str, Any]]) -> None:
    header = (
        f"{'scenario':<15} {'ops':>6} {'req':>6} {'ops/s':>7} {'p50':>7} {'p95':>7} {'p99':>7} "
        f"{'err':>4} {'RSS MB':>7} {'srv%':>5} {'db%':>4} {'cli%':>4} {'oth%':>4} {'all%':>5} "
        f"{'cpu ms/op':>11} {'load':>5}  target"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        load = r["loadavg_start"][0]
        flag = "!" if load > facts.QUIET_LOAD else " "
        print(
            f"{r['scenario']!s:<15} {r['operations']:>6} {r['http_requests']:>6} {r['throughput_per_s']:>7} "
            f"{r['p50_ms']!s:>7} {r['p95_ms']!s:>7} {r['p99_ms']!s:>7} {r['errors']:>4} "
            f"{r['peak_rss_mb']:>7} {r['server_cpu_percent']:>5} {r['database_cpu_percent']:>4} "
            f"{r['client_cpu_percent']:>4} {r['other_cpu_percent']:>4} {r['machine_cpu_percent']:>5} "
            f"{_cpu_per_op(r):>11} {load:>4.2f}{flag}  {r['target']}"
        )
        for tag, c in _classes(r):
            print(
                f"{'  ' + tag:<15} {c['operations']:>6} {'':>14} {c['p50_ms']!s:>7} {c['p95_ms']!s:>7} "
                f"{c['p99_ms']!s:>7} {c.get('errors', 0):>4} {'':>55}  {c['target']}"
            )


def _classes(row: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The row's search term classes in their printing order."""
    found: dict[str, dict[str, Any]] = row.get("by_class", {})
    return [(tag, found[tag]) for tag in load.TERM_CLASSES if tag in found]


def search_terms(
    args: argparse.Namespace, found: Sample
) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """The term classes of the staff reader's search, and of the customer's search of their own
    tickets (words, and their own ticket numbers)."""
    words = data.Vocabulary.build(random.Random(args.seed)).search_terms()
    staff = {**words, "number": found.numbers, "email": found.emails}
    customer = {**words, "number": found.customer_numbers}
    return staff, customer


Driven = tuple[list[dict[str, Any]], list[Drain]]


async def drive(args: argparse.Namespace, server: Server) -> Driven:
    staff_email = data.ADMIN_EMAIL if args.as_admin else data.AGENT_EMAIL
    staff_id = data.ADMIN_ID if args.as_admin else data.AGENT_ID
    staff = await load.login(server.port, staff_email, data.PASSWORD)
    customer = await load.login(server.port, data.CUSTOMER_EMAIL, data.PASSWORD)
    found = sample(args, staff_id, data.AGENT_DEPARTMENTS)
    terms, customer_terms = search_terms(args, found)
    staff_cookie = await load.web_login(server.port, staff_email, data.PASSWORD)
    customer_cookie = await load.web_login(server.port, data.CUSTOMER_EMAIL, data.PASSWORD)
    actors = load.Actors(
        staff,
        customer,
        found.readable,
        found.repliable,
        terms,
        staff_cookie,
        customer_cookie,
        customer_terms,
    )
    operations = load.scenarios(actors)
    database_pids = proc.postgres_pids if args.backend == "postgresql" else list
    rows: list[dict[str, Any]] = []
    drains: list[Drain] = []
    queue = Queue(args.database_url)
    try:
        queue.mark_mail()
        # Left over from an earlier run (one that hit the cap): the first reads must not meet it.
        first = await drain(
            queue, after="start", before_writes=None, timeout=args.drain_timeout, server_pids=server.pids
        )
        print(f"  {first.line()}", flush=True)
        if first.backlog_jobs:
            drains.append(first)
        for index, name in enumerate(s for s in ORDER if s in args.scenarios.split(",")):
            if name in WRITES:
                queue.mark_mail()
            before = queue.snapshot()
            result = await load.run_scenario(
                name,
                operations[name],
                port=server.port,
                server_pids=server.pids,
                database_pids=database_pids,
                concurrency=args.concurrency,
                seconds=args.seconds,
                max_operations=args.max_requests,
                warmup_seconds=args.warmup,
                seed=args.seed,
            )
            row = result.summary()
            row["target"] = verdict(name, row)
            row["jobs_due_at_start"] = before.due
            for _, figures in _classes(row):
                figures["target"] = verdict(name, figures)
            rows.append(row)
            report(row, index, result.error_samples)
            if name in WRITES:
                drained = await drain(
                    queue,
                    after=name,
                    before_writes=before,
                    timeout=args.drain_timeout,
                    server_pids=server.pids,
                )
                drains.append(drained)
                row["backlog"] = drained.as_dict()
                print(f"          {drained.line()}", flush=True)
    finally:
        queue.close()
    return rows, drains


def report(row: dict[str, Any], index: int, error_samples: list[str]) -> None:
    """The scenario's line as soon as it is measured."""
    name, load_start, load_end = row["scenario"], row["loadavg_start"], row["loadavg_end"]
    print(
        f"  {name:<15} {row['throughput_per_s']:>7}/s  p95 {row['p95_ms']} ms  errors {row['errors']}  "
        f"load {load_start[0]:.2f} -> {load_end[0]:.2f}  other CPU {row['other_cpu_percent']}%  "
        f"{row['target']}",
        flush=True,
    )
    if warning := facts.quiet_warning(load_start, f"scenario {name}"):
        # The 1-minute average still holds this bench's own previous scenario; `oth%` does not.
        print(f"          {warning}" + (" (partly this bench's previous scenario)" if index else ""))
    if row["jobs_due_at_start"]:
        print(f"          measured with {row['jobs_due_at_start']} jobs due in the server's queue")
    if row["worker_restarts"]:
        print(f"          {row['worker_restarts']} uvicorn worker(s) killed (missed the 5 s health ping)")
    for tag, figures in _classes(row):
        print(
            f"          {tag:<9} p50 {figures['p50_ms']} ms  p95 {figures['p95_ms']} ms"
            f"  ({figures['operations']} ops, {figures['errors']} errors)  {figures['target']}"
        )
    for error in error_samples[:2]:
        print(f"          error: {error}")


def print_drains(drains: list[Drain]) -> None:
    if not drains:
        return
    print(
        "\nJob backlog: what the writes left for the server's in-process workers (reads wait until it "
        "is gone; jobs/s and mails/s while draining, srv% the uvicorn processes meanwhile)"
    )
    for drained in drains:
        print(f"  {drained.line()}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    seeded = prepare(args)
    if args.seed_only:
        return 0
    load_start = facts.warn_if_busy("the run (after seeding, before the server starts)")
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    log_path = RESULTS / f"server-{args.backend}-{stamp}.log"
    print(f"Starting `ticketry serve --workers {args.workers} --no-migrate` (log: {log_path}) ...")
    server = Server.start(args.database_url, workers=args.workers, log_path=log_path)
    try:
        runner: Callable[[Coroutine[Any, Any, Driven]], Driven]
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            runner = asyncio.run
        print(
            f"Driving http://127.0.0.1:{server.port} with {args.concurrency} connections, "
            f"{args.seconds:g} s or {args.max_requests:,} operations per scenario:"
        )
        rows, drains = runner(drive(args, server))
    finally:
        server.stop()
    load_end = facts.load_average()
    tickets = seeded.get("tickets")
    print(
        f"\n{args.backend}, {tickets:,} tickets, {args.workers} workers, {args.concurrency} clients "
        f"(latency in ms; detail = GET ticket + GET replies; search rows below it: its term classes; "
        f"CPU % of one core: srv = uvicorn processes, db = PostgreSQL, cli = this client, oth = anything "
        f"else, all = whole machine; load = 1-minute load average at the scenario's start, ! above "
        f"{facts.QUIET_LOAD:g})"
    )
    print_table(rows)
    print_drains(drains)
    print(
        f"\nLoad average {load_start[0]:.2f} at the start of the run, {load_end[0]:.2f} at the end."
        + (f" {facts.quiet_warning(load_start, 'the run')}" if load_start[0] > facts.QUIET_LOAD else "")
    )
    out = RESULTS / f"{args.backend}-{tickets}-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "backend": args.backend,
                "database_url": args.database_url,
                "commit": facts.source_commit(),
                "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "seed": seeded,
                "config": {k: v for k, v in vars(args).items() if k != "database_url"},
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                "loadavg": {"start": load_start, "end": load_end, "quiet_below": facts.QUIET_LOAD},
                "targets": {k: {"figure": f, "bound": b} for k, (f, b) in TARGETS.items()},
                "results": rows,
                "drains": [d.as_dict() for d in drains],
            },
            indent=2,
        )
    )
    print(f"\nResults written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
