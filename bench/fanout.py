"""`python -m bench.fanout` (also `python -m bench.mail --runs fanout`, part of `make bench`): how
fast one job worker turns ticket events into delivered notification mail (issue 13).

A fresh database with a department of `--agents` (30) agents; `--events` (200) tickets created
through the tickets service by a customer, each in its own transaction as a request would, each
queueing `tickets.created`; then one worker drains the queue (the notification jobs, the mails
they compose, their delivery) against aiosmtpd (tests/mailserver.py) in a process of its own.
Prints events/s, mails/s and the worker's CPU. Only the tickets service, the worker and the
`jobs` and `mail_log` tables are used, so the run measures whatever the notification path is
today. See bench/README.md; nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bench import facts
from bench import mail as bench_mail  # an attribute at a time: bench.mail imports this module
from ticketry.app import configure_logging  # the composition root: every job handler registers
from ticketry.auth import service as auth_service
from ticketry.core.db import Database
from ticketry.jobs.models import Job
from ticketry.mail.log.models import Direction, MailLog
from ticketry.tickets import service as ticket_service
from ticketry.users import service as users
from ticketry.users.models import Role

CUSTOMER = "fanout-customer@customer.example"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fanout",
        description="Tickets created through the service, then one worker sends their notifications "
        "to aiosmtpd; prints events/s, mails/s and the worker's CPU.",
    )
    add_arguments(parser)
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also run on PostgreSQL (e.g. postgresql://postgres@127.0.0.1:5432/); "
        "a database of its own is created there and dropped",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only (with --postgres)")
    parser.add_argument("--log-level", default="WARNING", help="the application's log level (WARNING)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory and databases")
    args = parser.parse_args(argv)
    args.backends = ([] if args.no_sqlite else ["sqlite"]) + (["postgresql"] if args.postgres else [])
    if not args.backends:
        parser.error("--no-sqlite needs --postgres")
    return args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the fan-out run (bench.mail takes them too)."""
    parser.add_argument("--events", type=int, default=200, help="tickets created, i.e. events (200)")
    parser.add_argument(
        "--fanout-agents", type=int, default=30, help="agents in the tickets' department (30)"
    )


def create_tickets(url: str, count: int) -> float:
    """`count` tickets by one customer in the department with the agents, one transaction each; the
    seconds it took."""
    db = Database.connect(url, pool_size=1)
    try:
        with db.unit_of_work() as session:
            user = users.create_user(session, email=CUSTOMER, name="Fanout Customer", role=Role.CUSTOMER)
            user_id = user.id
        begun = time.perf_counter()
        for n in range(count):
            with db.unit_of_work() as session:
                actor = auth_service.actor_for(session, users.get_user(session, user_id))
                ticket_service.create_ticket(
                    session,
                    actor,
                    title=f"Printer on floor {n % 7 + 1} is offline again ({n})",
                    description="Since this morning nobody on our floor can print. We restarted it twice.",
                    department="technical",
                )
        return time.perf_counter() - begun
    finally:
        db.dispose()


def queue_contents(db: Database) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Jobs by name and status; outbound mail by status."""
    with db.unit_of_work(write=False) as session:
        jobs: dict[str, dict[str, int]] = {}
        for name, status, count in session.execute(
            select(Job.name, Job.status, func.count()).group_by(Job.name, Job.status)
        ):
            jobs.setdefault(str(name), {})[status.value] = int(count)
        mails = {
            status.value: int(count)
            for status, count in session.execute(
                select(MailLog.status, func.count())
                .where(MailLog.direction == Direction.OUTBOUND)
                .group_by(MailLog.status)
            )
        }
    return jobs, mails


def run_fanout(url: str, *, events: int, agents: int) -> dict[str, Any]:
    """On a fresh migrated database: the helpdesk, the tickets, then one worker against aiosmtpd."""
    bench_mail.prepare_helpdesk(url, agents=agents, imap=None)
    create_s = create_tickets(url, events)
    db = Database.connect(url, pool_size=2)
    try:
        with bench_mail.aiosmtpd(as_settings=True) as smtp:
            queued, _ = queue_contents(db)
            worker = bench_mail.TimedWorker(db)
            load_start = facts.load_average()
            smtp_cpu = smtp.cpu_seconds()
            watch = bench_mail.Watch()
            bench_mail.drain(db, worker)
            figures = watch.figures()
            smtp_cpu = smtp.cpu_seconds() - smtp_cpu
            load_end = facts.load_average()
            jobs, mails = queue_contents(db)
    finally:
        db.dispose()
    received = smtp.received
    seconds = figures["seconds"]
    sent = mails.get("sent", 0)
    return {
        **figures,
        "run": "fanout",
        "events": events,
        "agents": agents,
        "create_seconds": round(create_s, 3),
        "create_rate": bench_mail._rate(events, create_s),
        "queued_before": {name: sum(per.values()) for name, per in queued.items()},
        "jobs": jobs,
        "jobs_run": sum(per.get("done", 0) for per in jobs.values()),
        "mail_log": mails,
        "mails_sent": sent,
        "mails_per_event": round(sent / events, 1) if events else None,
        "event_rate": bench_mail._rate(events, seconds),
        "mail_rate": bench_mail._rate(sent, seconds),
        "smtp_server": received,
        "smtp_cpu_percent": round(100 * smtp_cpu / seconds) if seconds else 0,
        "worker_time": worker.breakdown(),
        "loadavg_start": load_start,
        "loadavg_end": load_end,
    }


def run(args: argparse.Namespace, backend: str, postgres: str | None, workdir: Path) -> dict[str, Any]:
    """One fan-out run on `backend` (a fresh database, dropped afterwards unless --keep)."""
    facts.warn_if_busy(f"the fan-out run on {backend}")
    with bench_mail.fresh_database(backend, postgres, workdir, "fanout", args.keep) as url:
        bench_mail.set_environment(
            {"TICKETRY_DATABASE_URL": url, "TICKETRY_STORAGE_URL": str(workdir / "files-fanout")}
        )
        result = run_fanout(url, events=args.events, agents=args.fanout_agents)
    result["backend"] = backend
    print(
        f"{backend}, fan-out: {result['events']} events -> {result['mails_sent']} mails sent in "
        f"{result['seconds']:.2f} s: {result['event_rate']} events/s, {result['mail_rate']} mails/s, "
        f"worker CPU {result['own_cpu_percent']}%; aiosmtpd accepted {result['smtp_server']['accepted']}",
        flush=True,
    )
    return result


def print_report(results: list[dict[str, Any]]) -> None:
    print(
        "\nFan-out: tickets created through the service, then one worker runs every job they cause and "
        "delivers the mails to aiosmtpd (cpu: the worker; smtp: aiosmtpd's process; load: the 1-minute "
        "load average at the start).\n"
    )
    columns = [("backend", -10), ("events", 6), ("agents", 6), ("mails", 6), ("/event", 6), ("drain s", 8)]
    columns += [("events/s", 8), ("mails/s", 8), ("jobs", 6), ("cpu%", 5), ("smtp%", 5), ("mach%", 5)]
    columns += [("load", 5), (" mail log", -1)]
    rows = [
        [
            r["backend"],
            r["events"],
            r["agents"],
            r["mails_sent"],
            r["mails_per_event"],
            f"{r['seconds']:.2f}",
            r["event_rate"],
            r["mail_rate"],
            r["jobs_run"],
            r["own_cpu_percent"],
            r["smtp_cpu_percent"],
            r["machine_cpu_percent"],
            f"{r['loadavg_start'][0]:.2f}",
            r["mail_log"],
        ]
        for r in results
    ]
    bench_mail.print_table(columns, rows)
    for r in results:
        spent = ", ".join(
            f"{name} {t['seconds']:.1f} s ({t['count']} x {t['ms_each']:.1f} ms)"
            for name, t in r["worker_time"].items()
        )
        print(f"  {r['backend']}: worker wall time by job: {spent}")
        if warning := facts.quiet_warning(r["loadavg_start"], f"the fan-out run on {r['backend']}"):
            print(f"  {warning}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    bench_mail.RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    workdir = Path(tempfile.mkdtemp(prefix="ticketry-bench-fanout-"))
    machine = bench_mail.machine_facts(args.postgres)
    configure_logging(args.log_level)
    bench_mail.set_environment(
        {
            "TICKETRY_SECRET_KEY": bench_mail.SECRET_KEY,
            "TICKETRY_MAIL_FROM": bench_mail.MAIL_FROM,
            "TICKETRY_SMTP_HOST": "",
            "TICKETRY_INPROCESS_WORKER": "false",
            "TICKETRY_LOG_LEVEL": args.log_level,
        }
    )
    results = []
    try:
        for backend in args.backends:
            results.append(run(args, backend, args.postgres, workdir))
    finally:
        if args.keep:
            print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print_report(results)
    load_end = facts.load_average()
    print(f"\nLoad average {machine['loadavg'][0]:.2f} at the start, {load_end[0]:.2f} at the end.")
    out = bench_mail.RESULTS / f"fanout-{stamp}.json"
    out.write_text(
        json.dumps(
            {
                "commit": facts.source_commit(),
                "config": {**vars(args), "postgres": bool(args.postgres)},
                "machine": {**machine, "loadavg_end": load_end},
                "results": results,
            },
            indent=2,
            default=str,
        )
    )
    print(f"\nResults written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
