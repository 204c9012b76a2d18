"""`python -m bench` (`make bench`): seed, serve, load, report. See bench/README.md."""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import sqlite3
import sys
import time
from dataclasses import asdict
from pathlib import Path

import psycopg

from bench import data, load, seed
from bench.server import Server
from ticketry.migrations import upgrade

RESULTS = Path(__file__).parent / "results"
PG_URL = "postgresql://postgres@127.0.0.1:5432/ticketry_bench"
DEFAULT_TICKETS = {"postgresql": 1_000_000, "sqlite": 100_000}
ORDER = ("list", "detail", "search", "stats", "create", "reply", "desk", "page", "portal")
# (figure, bound): p95 latency at most, or throughput at least (issue "load benchmark").
TARGETS = {
    "list": ("p95_ms", 50.0),
    "detail": ("p95_ms", 30.0),
    "search": ("p95_ms", 150.0),
    "stats": ("p95_ms", 300.0),
    "create": ("throughput_per_s", 400.0),
    "reply": ("throughput_per_s", 400.0),
    # Pages of the web UI (issue "Web UI", part 9): desk list, desk ticket page, portal list.
    "desk": ("p95_ms", 100.0),
    "page": ("p95_ms", 100.0),
    "portal": ("p95_ms", 100.0),
}


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
    args = parser.parse_args(argv)
    args.tickets = args.tickets or DEFAULT_TICKETS[args.backend]
    if not args.database_url:
        args.database_url = (
            PG_URL if args.backend == "postgresql" else f"sqlite:////tmp/ticketry_bench_{args.tickets}.db"
        )
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


def sample_ids(
    args: argparse.Namespace, staff_id: int, departments: tuple[int, ...]
) -> tuple[list[int], list[int]]:
    """Random tickets the reader may see, and of those the ones a reply does not change the status of."""
    if args.as_admin:
        visible = "deleted_at IS NULL"
    else:
        marks = ", ".join(str(d) for d in departments)
        visible = (
            f"deleted_at IS NULL AND (department_id IN ({marks}) OR assignee_id = {staff_id}"
            f" OR id IN (SELECT ticket_id FROM ticket_watchers WHERE user_id = {staff_id}))"
        )
    queries = (
        f"SELECT id FROM tickets WHERE {visible} ORDER BY random() LIMIT 20000",
        f"SELECT id FROM tickets WHERE {visible} AND status NOT IN ('open', 'closed')"
        " ORDER BY random() LIMIT 20000",
    )
    if args.backend == "postgresql":
        with psycopg.connect(seed._pg_conninfo(args.database_url)) as conn:
            readable, repliable = ([int(r[0]) for r in conn.execute(q)] for q in queries)
    else:
        with sqlite3.connect(seed.sqlite_path(args.database_url)) as conn:
            readable, repliable = ([int(r[0]) for r in conn.execute(q)] for q in queries)
    return readable, repliable


def verdict(name: str, summary: dict[str, object]) -> str:
    figure, bound = TARGETS[name]
    value = summary.get(figure)
    if not isinstance(value, int | float):
        return "n/a"
    met = value <= bound if figure.startswith("p95") else value >= bound
    unit = "ms p95" if figure.startswith("p95") else "/s"
    sign = "<=" if figure.startswith("p95") else ">="
    return f"{'MET ' if met else 'MISS'} {sign} {bound:g} {unit}"


def print_table(rows: list[dict[str, object]]) -> None:
    header = (
        f"{'scenario':<8} {'ops':>6} {'req':>6} {'ops/s':>7} {'p50':>7} {'p95':>7} {'p99':>7} "
        f"{'err':>4} {'RSS MB':>7} {'srv%':>5} {'cli%':>5} {'all%':>5}  target"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['scenario']!s:<8} {r['operations']:>6} {r['http_requests']:>6} {r['throughput_per_s']:>7} "
            f"{r['p50_ms']!s:>7} {r['p95_ms']!s:>7} {r['p99_ms']!s:>7} {r['errors']:>4} "
            f"{r['peak_rss_mb']:>7} {r['server_cpu_percent']:>5} {r['client_cpu_percent']:>5} "
            f"{r['machine_cpu_percent']:>5}  {r['target']}"
        )


async def drive(args: argparse.Namespace, server: Server) -> list[dict[str, object]]:
    staff_email = data.ADMIN_EMAIL if args.as_admin else data.AGENT_EMAIL
    staff_id = data.ADMIN_ID if args.as_admin else data.AGENT_ID
    staff = await load.login(server.port, staff_email, data.PASSWORD)
    customer = await load.login(server.port, data.CUSTOMER_EMAIL, data.PASSWORD)
    readable, repliable = sample_ids(args, staff_id, data.AGENT_DEPARTMENTS)
    terms = data.Vocabulary.build(random.Random(args.seed)).search_terms()
    staff_cookie = await load.web_login(server.port, staff_email, data.PASSWORD)
    customer_cookie = await load.web_login(server.port, data.CUSTOMER_EMAIL, data.PASSWORD)
    actors = load.Actors(staff, customer, readable, repliable, terms, staff_cookie, customer_cookie)
    operations = load.scenarios(actors)
    rows = []
    for name in [s for s in ORDER if s in args.scenarios.split(",")]:
        result = await load.run_scenario(
            name,
            operations[name],
            port=server.port,
            server_pids=server.pids,
            concurrency=args.concurrency,
            seconds=args.seconds,
            max_operations=args.max_requests,
            warmup_seconds=args.warmup,
            seed=args.seed,
        )
        row = result.summary()
        row["target"] = verdict(name, row)
        rows.append(row)
        print(
            f"  {name:<7} {row['throughput_per_s']:>7}/s  p95 {row['p95_ms']} ms  "
            f"errors {row['errors']}  {row['target']}",
            flush=True,
        )
        if row["worker_restarts"]:
            print(f"          {row['worker_restarts']} uvicorn worker(s) killed (missed the 5 s health ping)")
        for tag, figures in row["by_class"].items():  # type: ignore[union-attr]
            print(
                f"          {tag:<7} p50 {figures['p50_ms']} ms  p95 {figures['p95_ms']} ms"
                f"  ({figures['operations']} ops)"
            )
        for sample in result.error_samples[:2]:
            print(f"          error: {sample}")
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    seeded = prepare(args)
    if args.seed_only:
        return 0
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    log_path = RESULTS / f"server-{args.backend}-{stamp}.log"
    print(f"Starting `ticketry serve --workers {args.workers} --no-migrate` (log: {log_path}) ...")
    server = Server.start(args.database_url, workers=args.workers, log_path=log_path)
    try:
        try:
            import uvloop

            runner = uvloop.run
        except ImportError:
            runner = asyncio.run
        print(
            f"Driving http://127.0.0.1:{server.port} with {args.concurrency} connections, "
            f"{args.seconds:g} s or {args.max_requests:,} operations per scenario:"
        )
        rows = runner(drive(args, server))
    finally:
        server.stop()
    tickets = seeded.get("tickets")
    print(
        f"\n{args.backend}, {tickets:,} tickets, {args.workers} workers, {args.concurrency} clients "
        f"(latency in ms; detail = GET ticket + GET replies; CPU % of one core: "
        f"srv = uvicorn processes, cli = this client, all = whole machine incl. the database)"
    )
    print_table(rows)
    out = RESULTS / f"{args.backend}-{tickets}-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "backend": args.backend,
                "database_url": args.database_url,
                "seed": seeded,
                "config": {k: v for k, v in vars(args).items() if k != "database_url"},
                "machine": {"python": platform.python_version(), "cpus": __import__("os").cpu_count()},
                "targets": {k: {"figure": f, "bound": b} for k, (f, b) in TARGETS.items()},
                "results": rows,
            },
            indent=2,
        )
    )
    print(f"\nResults written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
