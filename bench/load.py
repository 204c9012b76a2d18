"""The load client: N keep-alive HTTP/1.1 connections on one asyncio loop, raw streams.

It shares the CPUs with the server, so it does as little as possible per request: requests are
pre-formatted bytes, responses are read by Content-Length and only their status is checked.
Its own CPU time is measured per scenario and reported next to the figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import resource
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus, urlencode

from bench import facts
from bench import server as proc


class HttpError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last_headers = b""

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        return self.reader, self.writer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(
        self,
        method: str,
        path: str,
        token: str | None,
        body: Any = None,
        *,
        cookie: str | None = None,
        form: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """One request; `token` authenticates like an API client, `cookie` like a browser."""
        payload = json.dumps(body).encode() if body is not None else b""
        content_type = "application/json"
        if form is not None:
            payload, content_type = urlencode(form).encode(), "application/x-www-form-urlencoded"
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
        if token:
            head += f"Authorization: Bearer {token}\r\n"
        if cookie:
            head += f"Cookie: {cookie}\r\n"
        if body is not None or form is not None:
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(payload)}\r\n"
        reader, writer = await self._open()
        writer.write(head.encode() + b"\r\n" + payload)
        try:
            status_line = await reader.readuntil(b"\r\n")
            headers = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            self.close()
            raise HttpError(f"connection lost: {error}") from error
        self.last_headers = headers
        status = int(status_line.split(b" ", 2)[1])
        length, chunked, close = 0, False, False
        for line in headers.lower().split(b"\r\n"):
            if line.startswith(b"content-length:"):
                length = int(line[15:])
            elif line.startswith(b"transfer-encoding:") and b"chunked" in line:
                chunked = True
            elif line.startswith(b"connection:") and b"close" in line:
                close = True
        if chunked:
            content = b""
            while True:
                size = int((await reader.readuntil(b"\r\n")).strip(), 16)
                content += await reader.readexactly(size + 2)
                if size == 0:
                    break
        else:
            content = await reader.readexactly(length)
        if close:
            self.close()
        return status, content


@dataclass
class Actors:
    staff: str  # token of the agent (or admin) reading the desk
    customer: str
    staff_ids: list[int]  # tickets the staff member may read
    reply_ids: list[int]  # of those, tickets that are not closed (staff can reply)
    terms: dict[str, list[str]]  # search terms by class (`TERM_CLASSES`), readable by the staff member
    staff_cookie: str = ""  # browser session of the same staff member (page scenarios)
    customer_cookie: str = ""
    customer_terms: dict[str, list[str]] = field(default_factory=dict)  # for the customer's own tickets


# The search term classes, in the order they are printed (bench/README.md, "Search term classes").
TERM_CLASSES = ("rare", "medium", "common", "two-words", "number", "email")


Outcome = tuple[bool, int, str, str]  # ok, HTTP requests made, error text, sub-class ("" if none)
Op = Callable[[Connection, random.Random], Awaitable[Outcome]]


def _ok(status: int, expected: int, content: bytes, tag: str = "") -> Outcome:
    return status == expected, 1, "" if status == expected else f"{status} {content[:200]!r}", tag


def scenarios(actors: Actors) -> dict[str, Op]:
    """One async function per scenario; each call is one measured operation."""
    words = [w for kind in ("rare", "medium", "common") for w in actors.terms.get(kind, [])]

    async def floor(conn: Connection, rng: random.Random) -> Outcome:
        """The least a request costs: routing, one database round trip, a JSON answer."""
        status, content = await conn.request("GET", "/api/v1/health", None)
        return _ok(status, 200, content)

    async def floor_auth(conn: Connection, rng: random.Random) -> Outcome:
        """... plus authenticating the agent's token (a constant list as the answer)."""
        status, content = await conn.request("GET", "/api/v1/priorities", actors.staff)
        return _ok(status, 200, content)

    async def floor_page(conn: Connection, rng: random.Random) -> Outcome:
        """The least a desk page costs: the agent's browser session, one small read (their
        notification settings), the layout around a short form."""
        status, content = await conn.request(
            "GET", "/account/notifications", None, cookie=actors.staff_cookie
        )
        return _ok(status, 200, content)

    async def create(conn: Connection, rng: random.Random) -> Outcome:
        body = {
            "title": f"Bench ticket {' '.join(rng.choices(words, k=3))}",
            "description": f"Load test ticket. {' '.join(rng.choices(words, k=20))}",
            "department": rng.choice(["technical", "billing", "sales", "general"]),
            "priority": rng.choice(["low", "medium", "high"]),
        }
        status, content = await conn.request("POST", "/api/v1/tickets", actors.customer, body)
        return _ok(status, 201, content)

    async def listing(conn: Connection, rng: random.Random) -> Outcome:
        path = "/api/v1/tickets?status=open&department=technical"
        status, content = await conn.request("GET", path, actors.staff)
        return _ok(status, 200, content)

    async def detail(conn: Connection, rng: random.Random) -> Outcome:
        ticket_id = rng.choice(actors.staff_ids)
        status, content = await conn.request("GET", f"/api/v1/tickets/{ticket_id}", actors.staff)
        if status != 200:
            return False, 1, f"{status} {content[:200]!r}", ""
        status, content = await conn.request("GET", f"/api/v1/tickets/{ticket_id}/replies", actors.staff)
        ok, _, error, _ = _ok(status, 200, content)
        return ok, 2, error, ""

    async def reply(conn: Connection, rng: random.Random) -> Outcome:
        ticket_id = rng.choice(actors.reply_ids)
        body = {"message": f"Bench reply. {' '.join(rng.choices(words, k=15))}"}
        status, content = await conn.request(
            "POST", f"/api/v1/tickets/{ticket_id}/replies", actors.staff, body
        )
        return _ok(status, 201, content)

    def searching(token: str, terms: dict[str, list[str]]) -> Op:
        """A class drawn evenly, then a term of it: each class gets its share of the operations."""
        kinds = [kind for kind in TERM_CLASSES if terms.get(kind)]

        async def search(conn: Connection, rng: random.Random) -> Outcome:
            kind = rng.choice(kinds)
            term = rng.choice(terms[kind])
            status, content = await conn.request("GET", f"/api/v1/tickets?q={quote_plus(term)}", token)
            return _ok(status, 200, content, kind)

        return search

    async def stats(conn: Connection, rng: random.Random) -> Outcome:
        status, content = await conn.request("GET", "/api/v1/stats", actors.staff)
        return _ok(status, 200, content)

    async def desk(conn: Connection, rng: random.Random) -> Outcome:
        status, content = await conn.request("GET", "/desk?view=open", None, cookie=actors.staff_cookie)
        return _ok(status, 200, content)

    async def page(conn: Connection, rng: random.Random) -> Outcome:
        ticket_id = rng.choice(actors.staff_ids)
        status, content = await conn.request(
            "GET", f"/desk/tickets/{ticket_id}", None, cookie=actors.staff_cookie
        )
        return _ok(status, 200, content)

    async def portal(conn: Connection, rng: random.Random) -> Outcome:
        status, content = await conn.request("GET", "/", None, cookie=actors.customer_cookie)
        return _ok(status, 200, content)

    return {
        "floor": floor,
        "floor_auth": floor_auth,
        "floor_page": floor_page,
        "desk": desk,
        "page": page,
        "portal": portal,
        "list": listing,
        "detail": detail,
        "search": searching(actors.staff, actors.terms),
        "search_customer": searching(actors.customer, actors.customer_terms),
        "stats": stats,
        "create": create,
        "reply": reply,
    }


@dataclass
class Result:
    scenario: str
    operations: int
    http_requests: int
    errors: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)
    by_tag: dict[str, list[float]] = field(repr=False)
    errors_by_tag: dict[str, int]
    peak_rss_mb: float
    server_cpu_percent: float
    client_cpu_percent: float
    machine_cpu_percent: float
    database_cpu_percent: float
    error_samples: list[str]
    worker_restarts: int
    loadavg_start: list[float]
    loadavg_end: list[float]

    def percentile(self, p: float) -> float | None:
        return percentile(self.latencies_ms, p)

    @property
    def throughput(self) -> float:
        return self.operations / self.seconds if self.seconds else 0.0

    def cpu_ms_per_operation(self, percent: float) -> float | None:
        """CPU time per operation of a process group that used `percent` of one core meanwhile:
        with every core busy, a closed loop of N clients waits about N x (this, summed) / cores."""
        return percent / 100 * self.seconds * 1000 / self.operations if self.operations else None

    def summary(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "operations": self.operations,
            "http_requests": self.http_requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 2),
            "throughput_per_s": round(self.throughput, 1),
            "mean_ms": _round(statistics.fmean(self.latencies_ms) if self.latencies_ms else None),
            "p50_ms": _round(self.percentile(50)),
            "p95_ms": _round(self.percentile(95)),
            "p99_ms": _round(self.percentile(99)),
            "max_ms": _round(max(self.latencies_ms) if self.latencies_ms else None),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "server_cpu_percent": round(self.server_cpu_percent),
            "client_cpu_percent": round(self.client_cpu_percent),
            "client_cpu_ms_per_op": _round(self.cpu_ms_per_operation(self.client_cpu_percent)),
            "machine_cpu_percent": round(self.machine_cpu_percent),
            "database_cpu_percent": round(self.database_cpu_percent),
            "server_cpu_ms_per_op": _round(self.cpu_ms_per_operation(self.server_cpu_percent)),
            "database_cpu_ms_per_op": _round(self.cpu_ms_per_operation(self.database_cpu_percent)),
            # Everything else the machine ran meanwhile: other people's work, not ours.
            "other_cpu_percent": round(
                max(
                    0.0,
                    self.machine_cpu_percent
                    - self.server_cpu_percent
                    - self.client_cpu_percent
                    - self.database_cpu_percent,
                )
            ),
            "loadavg_start": self.loadavg_start,
            "loadavg_end": self.loadavg_end,
            "error_samples": self.error_samples,
            "worker_restarts": self.worker_restarts,
            "by_class": {
                tag: {
                    "operations": len(values),
                    "errors": self.errors_by_tag.get(tag, 0),
                    "p50_ms": _round(percentile(values, 50)),
                    "p95_ms": _round(percentile(values, 95)),
                    "p99_ms": _round(percentile(values, 99)),
                }
                for tag, values in sorted(self.by_tag.items())
            },
        }


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


async def run_scenario(
    name: str,
    op: Op,
    *,
    port: int,
    server_pids: Callable[[], list[int]],
    database_pids: Callable[[], list[int]],
    concurrency: int,
    seconds: float,
    max_operations: int,
    warmup_seconds: float,
    seed: int,
) -> Result:
    connections = [Connection(port) for _ in range(concurrency)]
    latencies: list[float] = []
    by_tag: dict[str, list[float]] = {}
    errors_by_tag: dict[str, int] = {}
    counters = {"ops": 0, "http": 0, "errors": 0, "started": 0}
    samples: list[str] = []
    peak = [0]

    async def worker(index: int, deadline: float, record: bool) -> None:
        rng = random.Random(seed * 1000 + index + (0 if record else 500))
        conn = connections[index]
        while time.monotonic() < deadline:
            if record:
                if counters["started"] >= max_operations:
                    return
                counters["started"] += 1
            started = time.perf_counter()
            try:
                ok, requests, error, tag = await op(conn, rng)
            except (HttpError, OSError) as exc:
                ok, requests, error, tag = False, 1, f"{type(exc).__name__}: {exc}", ""
                conn.close()
            elapsed = (time.perf_counter() - started) * 1000
            if not record:
                continue
            latencies.append(elapsed)
            if tag:
                by_tag.setdefault(tag, []).append(elapsed)
            counters["ops"] += 1
            counters["http"] += requests
            if not ok:
                counters["errors"] += 1
                if tag:
                    errors_by_tag[tag] = errors_by_tag.get(tag, 0) + 1
                if len(samples) < 5:
                    samples.append(error)

    async def watch_memory(stop: asyncio.Event) -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], proc.rss_kb(server_pids()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.2)

    loadavg_start = facts.load_average()
    if warmup_seconds > 0:
        end = time.monotonic() + warmup_seconds
        await asyncio.gather(*(worker(i, end, False) for i in range(concurrency)))
    stop = asyncio.Event()
    watcher = asyncio.create_task(watch_memory(stop))
    pids = server_pids()
    server_cpu, client_cpu = proc.cpu_seconds(pids), _own_cpu()
    busy, _ = proc.machine_busy()
    database = proc.CpuOf(database_pids)
    started = time.monotonic()
    await asyncio.gather(*(worker(i, started + seconds, True) for i in range(concurrency)))
    elapsed = time.monotonic() - started
    server_cpu = proc.cpu_seconds(pids) - server_cpu
    # uvicorn's supervisor kills a worker that misses its 5 s health ping (and starts another);
    # its connections are then lost, which shows up as errors.
    restarts = len(set(pids) - set(server_pids()))
    client_cpu = _own_cpu() - client_cpu
    database_cpu = database.seconds()
    busy2, _ = proc.machine_busy()
    stop.set()
    await watcher
    for conn in connections:
        conn.close()
    return Result(
        scenario=name,
        operations=counters["ops"],
        http_requests=counters["http"],
        errors=counters["errors"],
        seconds=elapsed,
        latencies_ms=latencies,
        by_tag=by_tag,
        errors_by_tag=errors_by_tag,
        peak_rss_mb=peak[0] / 1024,
        server_cpu_percent=100 * server_cpu / elapsed,
        client_cpu_percent=100 * client_cpu / elapsed,
        machine_cpu_percent=100 * (busy2 - busy) / elapsed if elapsed else 0.0,
        database_cpu_percent=100 * database_cpu / elapsed if elapsed else 0.0,
        error_samples=samples,
        worker_restarts=restarts,
        loadavg_start=loadavg_start,
        loadavg_end=facts.load_average(),
    )


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def login(port: int, email: str, password: str) -> str:
    conn = Connection(port)
    try:
        status, content = await conn.request(
            "POST", "/api/v1/auth/login", None, {"email": email, "password": password}
        )
    finally:
        conn.close()
    if status != 200:
        raise RuntimeError(f"login as {email} failed: {status} {content[:300]!r}")
    token: str = json.loads(content)["token"]
    return token


def _cookies(headers: bytes) -> dict[str, str]:
    found = {}
    for line in headers.split(b"\r\n"):
        if line.lower().startswith(b"set-cookie:"):
            name, _, rest = line[11:].decode().strip().partition("=")
            found[name] = rest.split(";", 1)[0]
    return found


async def web_login(port: int, email: str, password: str) -> str:
    """Sign in through the login form like a browser; the session cookie header to send."""
    conn = Connection(port)
    try:
        status, content = await conn.request("GET", "/login", None)
        pre = _cookies(conn.last_headers)
        match = re.search(rb'name="csrf_token" value="([^"]+)"', content)
        if status != 200 or match is None or not pre:
            raise RuntimeError(f"login page unusable: {status}")
        cookie = "; ".join(f"{k}={v}" for k, v in pre.items())
        form = {"email": email, "password": password, "csrf_token": match.group(1).decode(), "next": ""}
        status, content = await conn.request("POST", "/login", None, cookie=cookie, form=form)
    finally:
        conn.close()
    session = _cookies(conn.last_headers).get("ticketry_session")
    if status != 303 or not session:
        raise RuntimeError(f"web login as {email} failed: {status} {content[:200]!r}")
    return f"ticketry_session={session}"
