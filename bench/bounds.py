"""`python -m bench.bounds`: the least each row of the load benchmark can cost on this machine, and
the p95 (or throughput) that least cost allows (bench/README.md, "Bounds").

The load benchmark's 16 clients keep both cores busy in every scenario: a closed loop on saturated
cores. Little's law then fixes the mean latency at N x c / k (N clients, k cores, c the machine's
CPU time per operation: web processes, database and the client together), and the p95 sits at r
times that mean, r measured in the same run. A p95 target T is out of reach whenever the least c a
row can cost is above T x k / (N x r); a throughput target X whenever it is above k / X.

The least c of a row is measured from two parts no leaner Python would remove:
1. the floor of its kind, measured by the load benchmark under the same load: `floor_auth` (a
   token checked, a constant answered) for every API request, `floor_page` (a browser session
   checked, one small read, the layout) for every page;
2. the database's CPU for the row's own SQL beyond its floor's: the statements each request of
   the row runs, captured in process through the real application on the bench database, less
   the floor request's, replayed raw on one connection (PostgreSQL: the backend's CPU from /proc;
   SQLite: this thread's CPU, the engine running in it) in a rolled-back transaction;
3. the answer, in the stack's own way (docs/architecture.md), less the floor's: for a page,
   rendering its template (timed in process around Jinja's `Template.render`); for the API,
   pydantic writing the answer as JSON (FastAPI's `serialize_json` of the response model, without
   the validation before it). The least of five each.
Everything else a request does (parsing, building statements, loading rows into objects,
validating, serializing) counts as nothing here, so the bound is below what any implementation
on this stack can reach.
A write is captured with its commit refused, so nothing it wrote stays and its replay (rolled back
each time) writes the same rows again: on SQLite, whose new rows take the next free id every time.
On PostgreSQL a replay would draw new ids from the sequences, which the captured statements do not
know; there a write's own database work is the database CPU per write the load run measured,
beyond its floor's. A write's answer includes the notification mails it causes: the write is
made once for real and the jobs it queued run in process, their mail templates' rendering timed,
and each mail they logged is handed to an SMTP server (aiosmtpd in a process of its own) over one
smtplib connection, this thread's CPU timed (the least of three rounds; the server's own CPU,
composing and logging the mails are left out). The job queue must be empty before.

Reads the newest load results of the backend from bench/results/ (`python -m bench --scenarios
floor_auth,floor_page,...` makes them); asserts nothing (docs/architecture.md section 7).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import smtplib
import statistics
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, astuple, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import fastapi.routing
import jinja2
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select

from bench import data, facts
from bench import mail as bench_mail
from bench import server as proc
from bench.__main__ import PG_URL, RESULTS, TARGETS, sample, search_terms, with_database
from bench.load import TERM_CLASSES
from ticketry.app import create_app
from ticketry.core.config import Settings
from ticketry.core.db import Database
from ticketry.jobs.worker import Worker
from ticketry.mail.log.models import Direction, MailLog

# The rows with a target, the floor each request of theirs stands on, and who makes it.
API, PAGE = "floor_auth", "floor_page"
WRITES = ("create", "reply")


@dataclass
class Request:
    path: str
    floor: str  # API or PAGE
    customer: bool = False
    body: dict[str, Any] | None = None  # a write: POSTed as JSON, its transaction never committed


@dataclass
class Captured:
    """One operation's statements beyond its floors, as the driver received them, and its
    answer's making (templates rendered, JSON written) beyond its floors'."""

    statements: list[tuple[str, Any]] = field(default_factory=list)
    answer_ms: float = 0.0

    @property
    def writes(self) -> bool:
        return any(not text.lstrip().upper().startswith(("SELECT", "BEGIN")) for text, _ in self.statements)


RENDERS = 5  # a request's answer takes the least of this many to make


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.bounds", description=__doc__)
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--tickets", type=int, help="the load benchmark's size (1,000,000 / 100,000)")
    parser.add_argument("--database-url", help=f"default {PG_URL} or sqlite:////tmp/ticketry_bench_<N>.db")
    parser.add_argument("--results", type=Path, help="these load results instead of the backend's newest")
    parser.add_argument("--samples", type=int, default=12, help="tickets (and terms per class) captured")
    parser.add_argument("--seconds", type=float, default=3.0, help="replay time per row")
    parser.add_argument("--as-admin", action="store_true", help="as the load run was made")
    parser.add_argument("--seed", type=int, default=42, help="the load benchmark's data seed")
    args = parser.parse_args(argv)
    with_database(args)
    return args


def newest_results(backend: str) -> Path:
    """The newest load results of the backend (`<backend>-<tickets>-<date>-<time>.json`: the
    tickets counted when the run began, which writes of earlier runs have added to)."""
    found = sorted(RESULTS.glob(f"{backend}-*-*-*.json"), key=lambda path: path.stem.split("-")[-2:])
    if not found:
        raise SystemExit(f"no load results for {backend} in {RESULTS}: run python -m bench first")
    return found[-1]


def machine_ms(row: dict[str, Any]) -> float:
    """CPU per operation of everything the run measured: web processes, database, client."""
    return float(row["server_cpu_ms_per_op"] + row["database_cpu_ms_per_op"] + row["client_cpu_ms_per_op"])


# -- the rows' requests -------------------------------------------------------------------------


def operations(args: argparse.Namespace, staff_id: int) -> dict[str, list[list[Request]]]:
    """Per row, the operations to capture, drawn like the load benchmark draws them."""
    found = sample(args, staff_id, data.AGENT_DEPARTMENTS)
    staff_terms, customer_terms = search_terms(args, found)
    tickets = found.readable[: args.samples]

    def searches(terms: dict[str, list[str]], customer: bool) -> list[list[Request]]:
        # Classes weigh the same in the load run; so here: the same number of terms of each.
        return [
            [Request(f"/api/v1/tickets?q={quote_plus(term)}", API, customer)]
            for kind in TERM_CLASSES
            for term in terms.get(kind, [])[: args.samples]
        ]

    # Writes like the load benchmark's: a customer's new ticket, an agent's reply.
    words = [w for kind in ("rare", "medium", "common") for w in staff_terms[kind]]
    about = {"department": "technical", "priority": "low"}
    writes = {
        "create": [
            [
                Request(
                    "/api/v1/tickets",
                    API,
                    True,
                    {"title": f"Bench {w}", "description": f"About {w}.", **about},
                )
            ]
            for w in words[: args.samples]
        ],
        "reply": [
            [Request(f"/api/v1/tickets/{t}/replies", API, body={"message": f"Bench reply {w}."})]
            for t, w in zip(found.repliable[: args.samples], words, strict=False)
        ],
    }
    return writes | {
        "list": [[Request("/api/v1/tickets?status=open&department=technical", API)]],
        "detail": [
            [Request(f"/api/v1/tickets/{t}", API), Request(f"/api/v1/tickets/{t}/replies", API)]
            for t in tickets
        ],
        "search": searches(staff_terms, customer=False),
        "search_customer": searches(customer_terms, customer=True),
        "desk": [[Request("/desk?view=open", PAGE)]],
        "page": [[Request(f"/desk/tickets/{t}", PAGE)] for t in tickets],
        "portal": [[Request("/", PAGE, customer=True)]],
    }


FLOORS = {API: "/api/v1/priorities", PAGE: "/account/notifications"}


class Capture:
    """The application in process, on the bench database, with the driver's statements recorded."""

    def __init__(self, db: Database, staff_email: str) -> None:
        self.db = db
        settings = Settings(database_url=str(db.engine.url.render_as_string(hide_password=False)))
        self.app = create_app(settings, db=db, background=False)
        self.recorded: list[tuple[str, Any]] = []
        self.rendered = 0.0  # thread CPU seconds in Template.render since the last reset
        self.serialized = 0.0  # ms: the least time the last API answer took to write as JSON
        self._time_renders()
        self._time_serializing()
        self.clients = {
            False: self._signed_in(staff_email),
            True: self._signed_in(data.CUSTOMER_EMAIL),
        }
        event.listen(db.engine, "before_cursor_execute", self._record)

    def _time_renders(self) -> None:
        render = jinja2.Template.render

        def timed(template: jinja2.Template, *args: Any, **kwargs: Any) -> str:
            started = time.thread_time()
            try:
                return render(template, *args, **kwargs)
            finally:
                self.rendered += time.thread_time() - started

        jinja2.Template.render = timed  # type: ignore[method-assign]

    def _record(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_rest: Any) -> None:
        self.recorded.append((statement, parameters))

    def _signed_in(self, email: str) -> tuple[TestClient, dict[str, str]]:
        """A browser session (cookie) and an API token of the person."""
        client = TestClient(self.app)
        answer = client.post("/api/v1/auth/login", json={"email": email, "password": data.PASSWORD})
        answer.raise_for_status()
        form = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        if token is None:
            raise RuntimeError("the login form has no CSRF field")
        signed = client.post(
            "/login",
            data={"email": email, "password": data.PASSWORD, "csrf_token": token.group(1)},
            follow_redirects=False,
        )
        if signed.status_code != 303:
            raise RuntimeError(f"web login as {email}: {signed.status_code}")
        return client, {"Authorization": f"Bearer {answer.json()['token']}"}

    def run(self, request: Request) -> tuple[list[tuple[str, Any]], float]:
        """The request's statements, and the least time its answer took to make, in ms."""
        if request.body is not None:
            return self._write(request), 0.0
        client, bearer = self.clients[request.customer]
        headers = bearer if request.floor == API else {}
        client.get(request.path, headers=headers)  # warm: the process's first-use caches
        renders = []
        for _ in range(RENDERS):
            self.recorded, self.rendered = [], 0.0
            answer = client.get(request.path, headers=headers)
            if answer.status_code != 200:
                raise RuntimeError(f"GET {request.path}: {answer.status_code} {answer.text[:200]}")
            renders.append(self.rendered * 1000)
        return self.recorded, min(renders) if request.floor == PAGE else self.serialized

    def _time_serializing(self) -> None:
        """FastAPI validates an endpoint's answer against the response model, then writes it as
        JSON: the second is the least an answer costs, timed here (the least of five) on the value
        the first made."""
        serialize = fastapi.routing.serialize_response

        async def timed(**kwargs: Any) -> Any:
            field = kwargs.get("field")
            if field is not None:
                value, _ = field.validate(kwargs["response_content"], {}, loc=("response",))
                times = []
                for _ in range(RENDERS):
                    started = time.thread_time()
                    field.serialize_json(value, by_alias=True)
                    times.append((time.thread_time() - started) * 1000)
                self.serialized = min(times)
            return await serialize(**kwargs)

        fastapi.routing.serialize_response = timed

    def _write(self, request: Request) -> list[tuple[str, Any]]:
        """The write's statements, its transaction rolled back just before its commit (the commit
        then has nothing to write: raising there instead left the transaction open on the pooled
        connection, to be committed by the next write on it)."""
        client, bearer = self.clients[request.customer]

        def undo(conn: Any) -> None:
            if conn.get_execution_options().get("ticketry_write"):  # not the token check's read
                conn.connection.dbapi_connection.rollback()

        self.recorded = []
        event.listen(self.db.engine, "commit", undo)
        try:
            answer = client.post(request.path, json=request.body, headers=bearer)
        finally:
            event.remove(self.db.engine, "commit", undo)
        if answer.status_code != 201:
            raise RuntimeError(f"POST {request.path}: {answer.status_code} {answer.text[:200]}")
        return self.recorded

    def mails(self, request: Request, smtp: Smtp) -> Mails:
        """The write made for real, then the jobs it queued run here: its notification mails,
        the ms their templates took to render and the least ms handing them to SMTP took."""
        with self.db.unit_of_work(write=False) as session:
            mark = session.scalar(select(func.coalesce(func.max(MailLog.id), 0)))
        client, bearer = self.clients[request.customer]
        answer = client.post(request.path, json=request.body, headers=bearer)
        if answer.status_code != 201:
            raise RuntimeError(f"POST {request.path}: {answer.status_code} {answer.text[:200]}")
        self.rendered = 0.0
        Worker(self.db, name="bench-bounds", batch_size=100).run_until_idle()
        rendered = self.rendered * 1000
        with self.db.unit_of_work(write=False) as session:
            logged = session.execute(
                select(MailLog.raw, MailLog.sender, MailLog.recipients).where(
                    MailLog.id > mark, MailLog.direction == Direction.OUTBOUND, MailLog.raw.is_not(None)
                )
            ).all()
        handed = min(
            smtp.hand_over([(raw, sender, recipients.split(", ")) for raw, sender, recipients in logged])
            for _ in range(3)
        )
        return Mails(len(logged), rendered, handed)

    def beyond_floors(self, operation: list[Request]) -> Captured:
        """The operation's statements less, for each request, its floor request's statements."""
        captured = Captured()
        for request in operation:
            floor_statements, floor_answer = self.run(
                Request(FLOORS[request.floor], request.floor, request.customer)
            )
            floor = Counter(text for text, _ in floor_statements)
            statements, answer = self.run(request)
            captured.answer_ms += max(answer - floor_answer, 0.0)
            for text, parameters in statements:
                if floor[text]:
                    floor[text] -= 1
                else:
                    captured.statements.append((text, parameters))
        return captured


@dataclass(frozen=True)
class Mails:
    """The notification mails one write caused, and the least ms making and handing them over took."""

    count: int
    rendered_ms: float
    handed_ms: float


class Smtp:
    """One smtplib connection to an SMTP server (`bench.mail.aiosmtpd`), as the `mail.send` job
    holds one: what this thread spends handing a mail over."""

    def __init__(self, port: int) -> None:
        self.client = smtplib.SMTP("127.0.0.1", port)

    def hand_over(self, mails: list[tuple[bytes, str, list[str]]]) -> float:
        """ms of this thread's CPU to send the mails."""
        started = time.thread_time()
        for raw, sender, recipients in mails:
            self.client.sendmail(sender, recipients, raw)
        return (time.thread_time() - started) * 1000

    def close(self) -> None:
        self.client.quit()


# -- replaying them -----------------------------------------------------------------------------


class Replayer:
    """The statements run raw, on one connection of the application's own engine (its session
    settings and functions), each operation in a transaction rolled back."""

    def __init__(self, db: Database) -> None:
        self.raw = db.engine.raw_connection()
        self.postgres = db.dialect == "postgresql"
        cursor = self.raw.cursor()
        if self.postgres:
            cursor.execute("SELECT pg_backend_pid()")
            self.backend_pid = int(cursor.fetchone()[0])
        cursor.close()
        self.raw.rollback()

    def close(self) -> None:
        self.raw.close()

    @contextmanager
    def _cpu(self) -> Iterator[list[float]]:
        """Seconds of database CPU spent in the block."""
        spent: list[float] = []
        start = proc.cpu_seconds([self.backend_pid]) if self.postgres else time.thread_time()
        yield spent
        end = proc.cpu_seconds([self.backend_pid]) if self.postgres else time.thread_time()
        spent.append(end - start)

    def _once(self, captured: Captured) -> None:
        """One operation in one transaction: a request's reads and writes may come on two
        connections, each with its own BEGIN (SQLite's are the application's own statements)."""
        cursor = self.raw.cursor()
        try:
            if not self.postgres:
                cursor.execute("BEGIN IMMEDIATE" if captured.writes else "BEGIN")
            for statement, parameters in captured.statements:
                if statement.startswith("BEGIN"):
                    continue
                cursor.execute(statement, parameters)
                if cursor.description is not None:
                    cursor.fetchall()
        finally:
            cursor.close()
            self.raw.rollback()

    def ms_per_operation(self, captured: list[Captured], seconds: float) -> float:
        """Database CPU per operation, the operations taken in turn for `seconds` of wall time."""
        for each in captured:  # warm: pages in cache, statements prepared
            self._once(each)
        done = 0
        deadline = time.monotonic() + seconds
        with self._cpu() as spent:
            while time.monotonic() < deadline or done < len(captured):
                self._once(captured[done % len(captured)])
                done += 1
        return spent[0] * 1000 / done


# -- the table ----------------------------------------------------------------------------------


@dataclass
class Own:
    """A row's own work beyond its floors, in ms per operation: the database's, and making the
    answer (rendering a page, writing JSON); and the floors it stands on (`floor` once per request)."""

    floor: str  # API or PAGE
    requests: int
    sql_ms: float | None  # None: not replayed (a write on PostgreSQL: the load run's figure instead)
    answer_ms: float = 0.0
    statements: int | None = None


@dataclass
class Bound:
    row: str
    target: str
    measured: str  # the load run's figure
    now_ms: float  # CPU per operation in the load run, machine-wide
    floor_ms: float  # the floors it stands on
    own: Own
    least_ms: float
    allowed_ms: float  # the most CPU per operation the target allows
    least_figure: str  # the best figure the least CPU allows
    reachable: bool

    def line(self) -> str:
        sql = "-" if self.own.sql_ms is None else f"{self.own.sql_ms:.2f}"
        verdict = "reachable" if self.reachable else "CANNOT on this machine"
        return (
            f"{self.row:<16} {self.target:>11} {self.measured:>9} {self.now_ms:>7.2f} {self.floor_ms:>7.2f} "
            f"{sql:>6} {self.own.answer_ms:>6.2f} {self.least_ms:>7.2f} {self.allowed_ms:>7.2f} "
            f"{self.least_figure:>11}  {verdict}"
        )


HEADER = (
    f"{'row':<16} {'target':>11} {'measured':>9} {'c now':>7} {'floors':>7} {'sql':>6} {'answer':>6} "
    f"{'c least':>7} {'allowed':>7} {'least gives':>11}  verdict"
)


def spread(results: dict[str, Any]) -> float:
    """The smallest p95 / mean of the run's scenarios: with it, a bound holds for every row."""
    ratios = [
        r["p95_ms"] / r["mean_ms"] for r in results["results"] if r.get("mean_ms") and r["operations"] >= 100
    ]
    if not ratios:
        raise SystemExit("the load results have no mean latencies: measure again with this tree's bench")
    return min(ratios)


def bounds(results: dict[str, Any], own: dict[str, Own], cores: int) -> list[Bound]:
    rows = {row["scenario"]: row for row in results["results"]}
    clients = int(results["config"]["concurrency"])
    ratio = spread(results)
    found: list[Bound] = []
    for name, (figure, target) in TARGETS.items():
        if name not in rows or name == "stats":  # stats meets its target
            continue
        if name not in own:
            continue
        row, mine = rows[name], own[name]
        if mine.floor not in rows:
            raise SystemExit(f"the load results have no {mine.floor} row: measure it with the rows")
        floor = mine.requests * machine_ms(rows[mine.floor])
        if mine.sql_ms is None:
            beyond = row["database_cpu_ms_per_op"] - rows[mine.floor]["database_cpu_ms_per_op"]
            mine = replace(mine, sql_ms=max(beyond, 0.0))
        least = floor + (mine.sql_ms or 0.0) + mine.answer_ms
        if figure == "throughput_per_s":
            allowed, best = cores * 1000 / target, cores * 1000 / least
            measured, shown, reachable = f"{row[figure]:.0f}/s", f"<= {best:.0f}/s", best >= target
            target_text = f">= {target:g}/s"
        else:
            allowed, best = target * cores / (clients * ratio), clients * least / cores * ratio
            measured, shown, reachable = f"{row[figure]:.0f} ms", f">= {best:.0f} ms", best <= target
            target_text = f"<= {target:g} ms"
        found.append(
            Bound(name, target_text, measured, machine_ms(row), floor, mine, least, allowed, shown, reachable)
        )
    return found


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    path = args.results or newest_results(args.backend)
    results = json.loads(path.read_text())
    print(
        f"Load results {path.name}: commit {results['commit']}, {results['config']['concurrency']} "
        f"clients, {results['config']['workers']} web processes, load "
        f"{results['loadavg']['start'][0]:.2f} at their start."
    )
    load_start = facts.warn_if_busy("the replay")
    os.environ.setdefault("TICKETRY_LOG_LEVEL", "WARNING")
    db = Database.connect(args.database_url, pool_size=2)
    staff_email = data.ADMIN_EMAIL if args.as_admin else data.AGENT_EMAIL
    staff_id = data.ADMIN_ID if args.as_admin else data.AGENT_ID
    capture = Capture(db, staff_email)
    replayer = Replayer(db)
    server = ExitStack()
    smtp = Smtp(server.enter_context(bench_mail.aiosmtpd()).port)
    own: dict[str, Own] = {}

    def mails_ms(name: str, ops: list[list[Request]]) -> float:
        made = [capture.mails(op[0], smtp) for op in ops]
        count, rendered, handed = (
            statistics.fmean(values) for values in zip(*(astuple(m) for m in made), strict=True)
        )
        print(
            f"  {name:<16} {count:.1f} notification mails each: rendered in {rendered:.2f} ms, handed "
            f"to SMTP in {handed:.2f} ms ({handed / max(count, 1):.3f} ms a mail)",
            flush=True,
        )
        return rendered + handed

    try:
        for name, ops in operations(args, staff_id).items():
            floors = {"floor": ops[0][0].floor, "requests": len(ops[0])}
            if name in WRITES and db.dialect == "postgresql":  # not replayed: see the top
                own[name] = Own(**floors, sql_ms=None, answer_ms=mails_ms(name, ops))
                continue
            captured = [capture.beyond_floors(op) for op in ops]
            mine = own[name] = Own(
                **floors,
                sql_ms=replayer.ms_per_operation(captured, args.seconds),
                answer_ms=statistics.fmean(c.answer_ms for c in captured),
                statements=round(statistics.fmean(len(c.statements) for c in captured)),
            )
            if name in WRITES:  # after the replay: the real write takes the keys the replay used
                mine.answer_ms += mails_ms(name, ops)
            print(
                f"  {name:<16} {mine.statements} statements beyond the floors: {mine.sql_ms:.2f} ms of "
                f"database CPU; making the answer beyond the floor's {mine.answer_ms:.2f} ms",
                flush=True,
            )
    finally:
        smtp.close()
        server.close()
        replayer.close()
        db.dispose()
    cores = int(results["machine"]["cpus"] or os.cpu_count() or 1)
    found, ratio = bounds(results, own, cores), spread(results)
    print(
        f"\n{results['backend']}, {results['seed']['tickets']:,} tickets, {cores} cores, "
        f"{results['config']['concurrency']} clients; p95 = {ratio:.2f} x mean at the least (the run's "
        "smallest spread). CPU in ms per operation, machine-wide: 'c now' in the load run; 'floors' its "
        "floor rows; 'sql' its own database work; 'answer' making the answer (a page rendered, JSON "
        "written) beyond the floor's; 'c least' their sum; 'allowed' the most CPU the target allows."
    )
    print(HEADER)
    print("-" * len(HEADER))
    for bound in found:
        print(bound.line())
    load_end = facts.load_average()
    print(f"\nLoad average {load_start[0]:.2f} at the start of the replay, {load_end[0]:.2f} at the end.")
    out = (
        RESULTS
        / f"bounds-{results['backend']}-{results['seed']['tickets']}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    )
    out.write_text(
        json.dumps(
            {
                "load_results": path.name,
                "commit": facts.source_commit(),
                "ratio": ratio,
                "cores": cores,
                "loadavg": {"start": load_start, "end": load_end},
                "bounds": [asdict(bound) for bound in found],
            },
            indent=2,
        )
    )
    print(f"Written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
