"""The chaos run (issue 14 C; docs/product.md §7: nothing acknowledged is lost).

Two `ticketry serve` processes and two `ticketry worker` processes on PostgreSQL, files in S3
(a moto server), outgoing mail to an SMTP sink (aiosmtpd in a process of its own that writes
every mail it accepts to a file). Clients create tickets (some with a file), reply as staff and
push mail through the inbound webhook, at both web processes, while the run

- `kill -9`s one web process (and starts a new one),
- `kill -9`s one worker mid-load (and starts a new one),
- restarts PostgreSQL in immediate mode (a crash: no shutdown checkpoint).

Then the load stops, the queue drains, and it checks what was acknowledged: every 2xx has its
row, its history, its files (in the bucket, with the right digest) and its jobs; no job is
left running or queued; every outgoing mail went to the sink exactly once (by Message-ID); and
live events still reach a stream held open on the surviving web process, after the database
restart. It prints the figures and what failed, and exits 1 if anything was lost.

    .venv/bin/python -m bench.chaos                     # about two minutes
    .venv/bin/python -m bench.chaos --no-postgres-restart

It restarts the machine's PostgreSQL cluster (`pg_ctlcluster`, as root): run it on a machine of
its own (CI does, after the tests), never beside a test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import itertools
import json
import multiprocessing
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import text

from bench import facts
from bench.server import Server, free_port, moto_server
from ticketry.core.db import Database

BUCKET = "ticketry-chaos"
DATABASE = "ticketry_chaos"
PASSWORD = "chaos-password-1"
CLIENTS = 6
LEASE_SECONDS = 15  # a killed worker's job is taken over after this
PG_CTLCLUSTER = "/usr/bin/pg_ctlcluster"  # Debian's postgresql-common
GAP_SECONDS = 5.0  # between one blow and the next (and twice that after the last)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-postgres-restart", action="store_true", help="skip the database restart")
    parser.add_argument("--drain-seconds", type=float, default=180.0, help="how long to wait for the queue")
    return parser.parse_args(argv)


# --- what the clients were told -----------------------------------------------------------------


@dataclass
class Acknowledged:
    """Every request answered 2xx, by kind, with what it must have left behind."""

    tickets: dict[int, str] = field(default_factory=dict)  # ticket id -> title
    files: dict[int, str] = field(default_factory=dict)  # ticket id -> sha256 of its file
    replies: dict[int, int] = field(default_factory=dict)  # message id -> ticket id
    mails: dict[int, str] = field(default_factory=dict)  # mail log id -> Message-ID
    answers: Counter[str] = field(default_factory=Counter)  # "kind status" -> count
    lock: threading.Lock = field(default_factory=threading.Lock)

    outcomes: list[tuple[float, bool]] = field(default_factory=list)  # (when, answered 2xx)

    def count(self, kind: str, outcome: str) -> None:
        with self.lock:
            self.answers[f"{kind} {outcome}"] += 1
            self.outcomes.append((time.monotonic(), outcome.startswith("2")))


@dataclass
class People:
    agent_token: str
    customer_tokens: list[str]
    session_cookie: str
    webhook_secret: str


# --- the stack ----------------------------------------------------------------------------------


def recreate_database(server_url: str) -> str:
    with psycopg.connect(f"{server_url}/postgres", autocommit=True) as connection:
        connection.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        connection.execute(f"CREATE DATABASE {DATABASE}")
    return f"{server_url}/{DATABASE}"


def make_people(url: str) -> People:
    from ticketry.auth import service as auth_service
    from ticketry.auth.passwords import hash_password
    from ticketry.mail.inbound import service as mail_service
    from ticketry.users import service as users
    from ticketry.users.models import Role

    db = Database.connect(url, pool_size=1)
    try:
        with db.unit_of_work() as session:
            departments = [department.id for department in users.list_departments(session)]
            hashed = hash_password(PASSWORD)

            def person(role: Role, email: str) -> Any:
                ids = departments if role.is_staff else []
                user = users.create_user(
                    session,
                    email=email,
                    name=email.split("@", maxsplit=1)[0],
                    role=role,
                    password_hash=hashed,
                    department_ids=ids,
                )
                session.flush()
                return user

            admin = person(Role.ADMIN, "chaos-admin@example.com")
            agent = person(Role.AGENT, "chaos-agent@example.com")
            _, agent_token = auth_service.create_token(session, agent, name="chaos")
            customer_tokens = []
            for n in range(CLIENTS):
                _, token = auth_service.create_token(
                    session, person(Role.CUSTOMER, f"chaos-customer-{n}@example.com"), name="chaos"
                )
                customer_tokens.append(token)
            cookie = auth_service.start_web_session(session, agent).secret
            actor = auth_service.actor_for(session, admin)
            mailbox = mail_service.create_mailbox(
                session,
                actor,
                mail_service.MailboxFields(
                    name="Chaos", address="help@chaos.example.com", department_id=departments[0]
                ),
            )
            secret = mail_service.rotate_webhook_secret(session, actor, mailbox.id)
    finally:
        db.dispose()
    return People(agent_token, customer_tokens, cookie, secret)


def _sink_process(port: int, path: str, ready: EventType, stop: EventType) -> None:
    """aiosmtpd writing one JSON line per accepted mail (its Message-ID, its recipients) and
    flushing it before answering 250, so the file holds every mail the sink acknowledged."""
    from email.parser import BytesHeaderParser

    from aiosmtpd.controller import Controller

    class Sink:
        def __init__(self) -> None:
            self.out = open(path, "a", encoding="utf-8")  # noqa: SIM115 — open for the process's life

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
            headers = BytesHeaderParser().parsebytes(envelope.content)
            line = {"messageId": headers.get("Message-ID", ""), "to": envelope.rcpt_tos}
            self.out.write(json.dumps(line) + "\n")
            self.out.flush()
            os.fsync(self.out.fileno())
            return "250 OK"

    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


@contextlib.contextmanager
def smtp_sink(path: Path) -> Iterator[int]:
    port = free_port()
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    process = context.Process(target=_sink_process, args=(port, str(path), ready, stop), daemon=True)
    process.start()
    if not ready.wait(30):
        raise RuntimeError("the SMTP sink did not start")
    try:
        yield port
    finally:
        stop.set()
        process.join(10)


class Worker:
    def __init__(self, url: str, env: dict[str, str], log_path: Path) -> None:
        command = [str(Path(sys.executable).with_name("ticketry")), "worker", "--poll", "0.2"]
        environment = {**os.environ, "TICKETRY_DATABASE_URL": url, "TICKETRY_LOG_LEVEL": "WARNING", **env}
        self.process = subprocess.Popen(
            command,
            env=environment,
            stdout=log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Cluster:
    """A PostgreSQL cluster of the run's own (Debian's `pg_createcluster`, trust auth, a free
    port), so that restarting it disturbs nothing else on the machine."""

    version: str
    name: str
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def ctl(self, *action: str) -> None:
        command = [
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            *action[:-1],
            self.version,
            self.name,
            action[-1],
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def restart(self) -> str:
        self.ctl("-m", "immediate", "restart")
        return f"PostgreSQL restarted in immediate mode (a crash: cluster {self.version}/{self.name})"


@contextlib.contextmanager
def own_cluster() -> Iterator[Cluster]:
    version = sorted(os.listdir("/etc/postgresql"))[-1]
    port = free_port()
    cluster = Cluster(version, f"ticketry_chaos_{port}", port)
    subprocess.run(
        ["/usr/bin/pg_createcluster", version, cluster.name, "-p", str(port), "--", "--auth=trust"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    try:
        cluster.ctl("start")
        yield cluster
    finally:
        drop = ["/usr/bin/pg_dropcluster", "--stop", version, cluster.name]
        subprocess.run(drop, check=False, capture_output=True, timeout=120)


# --- the load -----------------------------------------------------------------------------------


def sample_mail(n: int) -> tuple[bytes, str]:
    mail = EmailMessage()
    mail["From"] = f"Sender {n} <chaos-sender-{n}@example.org>"
    mail["To"] = "help@chaos.example.com"
    mail["Subject"] = f"Chaos mail {n}"
    mail["Message-ID"] = message_id = make_msgid(domain="example.org")
    mail["Date"] = "Mon, 07 Dec 2026 06:00:00 +0000"
    mail.set_content(f"Mail number {n} pushed through the webhook during the chaos run.\n")
    return mail.as_bytes(), message_id


def client_loop(n: int, people: People, ports: list[int], acked: Acknowledged, stop: threading.Event) -> None:
    """One client: a random action at a random web process, again and again. A refused or broken
    request is counted and not retried: only a 2xx is a promise."""
    rng = random.Random(n)
    customer = {"Authorization": f"Bearer {people.customer_tokens[n]}"}
    agent = {"Authorization": f"Bearer {people.agent_token}"}
    own_tickets: list[int] = []
    counter = 0
    with httpx.Client(timeout=30) as client:
        while not stop.is_set():
            counter += 1
            base = f"http://127.0.0.1:{rng.choice(ports)}/api/v1"
            kind = rng.choices(["create", "file", "reply", "mail"], weights=[4, 2, 4, 2])[0]
            if kind == "reply" and not own_tickets:
                kind = "create"
            marker = f"chaos {n}-{counter}"
            try:
                if kind == "create":
                    answer = client.post(
                        f"{base}/tickets", headers=customer, json={"title": marker, "description": marker}
                    )
                elif kind == "file":
                    content = f"{marker} {rng.random()}\n".encode() * 200
                    answer = client.post(
                        f"{base}/tickets",
                        headers=customer,
                        data={"title": marker, "description": marker},
                        files={"files": (f"{n}-{counter}.txt", content, "text/plain")},
                    )
                elif kind == "reply":
                    answer = client.post(
                        f"{base}/tickets/{rng.choice(own_tickets)}/replies",
                        headers=agent,
                        json={"message": marker},
                    )
                else:
                    raw, message_id = sample_mail(n * 100_000 + counter)
                    answer = client.post(
                        f"{base}/mail/inbound",
                        headers={
                            "Authorization": f"Bearer {people.webhook_secret}",
                            "Content-Type": "message/rfc822",
                        },
                        content=raw,
                    )
            except httpx.HTTPError as error:
                acked.count(kind, type(error).__name__)
                continue
            acked.count(kind, str(answer.status_code))
            if not answer.is_success:
                continue
            body = answer.json()
            with acked.lock:
                if kind in ("create", "file"):
                    acked.tickets[body["id"]] = marker
                    own_tickets.append(body["id"])
                    if kind == "file":
                        acked.files[body["id"]] = hashlib.sha256(content).hexdigest()
                elif kind == "reply":
                    acked.replies[body["id"]] = int(answer.url.path.split("/")[-2])
                else:
                    acked.mails[body["id"]] = message_id


class LiveListener:
    """An agent's desk stream held open on one web process; the events it heard, with times."""

    def __init__(self, port: int, cookie: str) -> None:
        self.url = f"http://127.0.0.1:{port}/events"
        self.cookie = cookie
        self.heard: list[tuple[float, str]] = []
        self.broken: str | None = None
        self.thread = threading.Thread(target=self.listen, daemon=True)
        self.thread.start()

    def listen(self) -> None:
        try:
            with httpx.stream(
                "GET",
                self.url,
                cookies={"ticketry_session": self.cookie},
                timeout=httpx.Timeout(10, read=None),
            ) as stream:
                for line in stream.iter_lines():
                    if line.startswith("event:"):
                        self.heard.append((time.monotonic(), line.split(":", 1)[1].strip()))
        except httpx.HTTPError as error:
            self.broken = f"{type(error).__name__}: {error}"

    def heard_since(self, moment: float) -> list[str]:
        return [kind for at, kind in self.heard if at >= moment]


# --- the checks ---------------------------------------------------------------------------------


def check(url: str, acked: Acknowledged, sink_path: Path, settings_env: dict[str, str]) -> list[str]:
    """What was promised and is not there (empty when nothing was lost)."""
    from ticketry.attachments.storage import open_storage
    from ticketry.core.config import Settings

    problems: list[str] = []
    db = Database.connect(url, pool_size=1)
    try:
        with db.unit_of_work(write=False) as session:
            rows = session.execute(text("SELECT id, title FROM tickets")).all()
            titles = {row.id: row.title for row in rows}
            created = set(
                session.scalars(
                    text(
                        "SELECT ticket_id FROM ticket_events WHERE field = 'ticket' AND new_value = 'created'"
                    )
                ).all()
            )
            messages = {
                row.id: row.ticket_id for row in session.execute(text("SELECT id, ticket_id FROM messages"))
            }
            files = session.execute(text("SELECT ticket_id, blob_key FROM attachments")).all()
            mails = {
                row.id: row.status
                for row in session.execute(
                    text("SELECT id, status FROM mail_log WHERE direction = 'inbound'")
                )
            }
            jobs = Counter(
                session.scalars(
                    text("SELECT status FROM jobs WHERE status = 'running' OR run_after <= CURRENT_TIMESTAMP")
                ).all()
            )
            dead = session.execute(text("SELECT name, last_error FROM jobs WHERE status = 'dead'")).all()
            ran = {
                (row.name, json.dumps(row.payload, sort_keys=True))
                for row in session.execute(text("SELECT name, payload FROM jobs WHERE status = 'done'"))
            }
            sent = session.execute(
                text("SELECT message_id_header, status, reason FROM mail_log WHERE direction = 'outbound'")
            ).all()
    finally:
        db.dispose()
    problems += _missing_jobs(acked, ran)
    for ticket_id, title in acked.tickets.items():
        if titles.get(ticket_id) != title:
            problems.append(f"ticket {ticket_id} ({title!r}) was acknowledged and is missing")
        elif ticket_id not in created:
            problems.append(f"ticket {ticket_id} has no 'created' history")
    for message_id, ticket_id in acked.replies.items():
        if messages.get(message_id) != ticket_id:
            problems.append(f"reply {message_id} on ticket {ticket_id} was acknowledged and is missing")
    stored = {ticket_id: key for ticket_id, key in files}
    storage = open_storage(
        Settings(**{k.removeprefix("TICKETRY_").lower(): v for k, v in settings_env.items()})
    )
    for ticket_id, digest in acked.files.items():
        if stored.get(ticket_id) != digest:
            problems.append(f"the file of ticket {ticket_id} has no attachment row with its digest")
        elif not storage.exists(digest):
            problems.append(f"the file of ticket {ticket_id} ({digest[:12]}) is not in the bucket")
    for mail_id in acked.mails:
        status = mails.get(mail_id)
        if status not in ("created_ticket", "appended"):
            problems.append(f"inbound mail {mail_id} was acknowledged and is {status or 'missing'}")
    for status in ("queued", "running"):
        if jobs[status]:
            problems.append(f"{jobs[status]} jobs still {status} after the drain")
    problems += [f"dead job {name}: {error}" for name, error in dead]
    received = Counter(
        json.loads(line)["messageId"] for line in sink_path.read_text(encoding="utf-8").splitlines() if line
    )
    problems += [
        f"mail {mid} reached the SMTP sink {count} times" for mid, count in received.items() if count > 1
    ]
    for message_id, status, reason in sent:  # the column is message_id_header
        if status == "sent" and received[message_id] == 0:
            problems.append(f"mail {message_id} is logged as sent and never reached the sink")
        elif status == "failed" and reason.startswith("Interrupted: "):
            # Claimed by the killed worker and maybe delivered: failed in the log, for an admin.
            arrived = "it had reached the sink" if received[message_id] else "it had not reached the sink"
            print(f"interrupted by the worker's death, marked failed for an admin: {message_id} ({arrived})")
        elif status != "sent":
            problems.append(f"outgoing mail {message_id} is {status}: {reason}")
    return problems


def _missing_jobs(acked: Acknowledged, ran: set[tuple[str, str]]) -> list[str]:
    """Each acknowledged change's job ran: a ticket's `tickets.created`, a reply's
    `messages.created`, a mail's `mail.ingest` (payloads read back as stored)."""
    wanted = [
        ("tickets.created", "ticket_id", acked.tickets, "ticket"),
        ("messages.created", "message_id", acked.replies, "reply"),
        ("mail.ingest", "mail_log_id", acked.mails, "inbound mail"),
    ]
    problems = []
    for name, key, items, what in wanted:
        done = {json.loads(payload).get(key) for job, payload in ran if job == name}
        problems += [f"{what} {item}: its {name} job did not run" for item in items if item not in done]
    return problems


def drain(url: str, seconds: float) -> float:
    """Wait until no job is queued (due) or running; how long that took."""
    start = time.monotonic()
    db = Database.connect(url, pool_size=1)
    try:
        while time.monotonic() - start < seconds:
            with db.unit_of_work(write=False) as session:
                left = session.scalar(
                    text(
                        "SELECT count(*) FROM jobs WHERE status = 'running'"
                        " OR (status = 'queued' AND run_after <= CURRENT_TIMESTAMP)"
                    )
                )
            if not left:
                break
            time.sleep(1)
    finally:
        db.dispose()
    return time.monotonic() - start


# --- the run ------------------------------------------------------------------------------------


def run(cluster: Cluster, args: argparse.Namespace, workdir: Path) -> int:
    from ticketry.migrations import upgrade

    url = recreate_database(cluster.url)
    upgrade(url)
    people = make_people(url)
    sink_path = workdir / "smtp.jsonl"
    clock = Clock()
    with moto_server(workdir / "moto.log", BUCKET) as (endpoint, _), smtp_sink(sink_path) as smtp_port:
        env = {
            "TICKETRY_INPROCESS_WORKER": "false",
            "TICKETRY_SECRET_KEY": "chaos-" + "k" * 40,
            "TICKETRY_STORAGE_URL": f"s3://{BUCKET}/files",
            "TICKETRY_S3_ENDPOINT_URL": endpoint,
            "TICKETRY_S3_ACCESS_KEY_ID": "test",
            "TICKETRY_S3_SECRET_ACCESS_KEY": "test",
            "TICKETRY_SMTP_HOST": "127.0.0.1",
            "TICKETRY_SMTP_PORT": str(smtp_port),
            "TICKETRY_SMTP_SECURITY": "none",
            "TICKETRY_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        }
        stack = Stack(url, env, workdir)
        try:
            listener = LiveListener(stack.webs[1].port, people.session_cookie)
            acked = Acknowledged()
            stop = threading.Event()
            clients = [
                threading.Thread(target=client_loop, args=(n, people, stack.ports, acked, stop))
                for n in range(CLIENTS)
            ]
            clock.say(f"load starts: {CLIENTS} clients at web processes on ports {stack.ports}, 2 workers")
            for thread in clients:
                thread.start()
            blows: list[Callable[[], str]] = [
                stack.kill_web,
                stack.start_web,
                stack.kill_worker,
                stack.start_worker,
            ]
            if not args.no_postgres_restart:
                blows.append(cluster.restart)
            phases = [("before any blow", time.monotonic())]
            for blow in blows:
                time.sleep(GAP_SECONDS)
                struck = time.monotonic()
                said = blow()
                clock.say(said)
                phases.append((said, struck))
            time.sleep(GAP_SECONDS * 2)
            stop.set()
            phases.append(("", time.monotonic()))
            for thread in clients:
                thread.join()
            clock.say("load stopped: " + ", ".join(f"{k}: {v}" for k, v in sorted(acked.answers.items())))
            # A change after every blow, to be heard by the stream open on the surviving process.
            heard_from = time.monotonic()
            httpx.post(
                f"http://127.0.0.1:{stack.webs[0].port}/api/v1/tickets/{next(iter(acked.tickets))}/replies",
                headers={"Authorization": f"Bearer {people.agent_token}"},
                json={"message": "after the chaos"},
                timeout=30,
            ).raise_for_status()
            time.sleep(3)
            live = listener.heard_since(heard_from)
            clock.say(f"queue drained in {drain(url, args.drain_seconds):.1f} s")
        finally:
            stack.stop()
        problems = check(url, acked, sink_path, env)
    if not live:
        problems.append(
            "the stream open on the surviving web process heard nothing of a change made after the blows"
            + (f" (it broke: {listener.broken})" if listener.broken else "")
        )
    print_phases(acked, phases)
    print_report(acked, sink_path, live, problems)
    return 1 if problems else 0


class Clock:
    def __init__(self) -> None:
        self.start = time.monotonic()

    def say(self, what: str) -> None:
        print(f"{time.monotonic() - self.start:6.1f} s  {what}", flush=True)


class Stack:
    """The two web processes and two workers; the first of each is the one that gets killed."""

    def __init__(self, url: str, env: dict[str, str], workdir: Path) -> None:
        self.url, self.env, self.workdir = url, env, workdir
        self.webs = [
            Server.start(url, workers=1, log_path=workdir / f"web{i}.log", env=env) for i in range(2)
        ]
        self.ports = [web.port for web in self.webs]
        self.workers = [Worker(url, env, workdir / f"worker{i}.log") for i in range(2)]

    def kill_web(self) -> str:
        pid = self.webs[0].process.pid
        os.killpg(pid, signal.SIGKILL)
        self.webs[0].process.wait()
        return f"kill -9 web process 0 (pid {pid})"

    def start_web(self) -> str:
        self.webs[0] = Server.start(
            self.url, workers=1, log_path=self.workdir / "web0-again.log", env=self.env
        )
        self.ports[0] = self.webs[0].port
        return f"web process 0 started again, on port {self.ports[0]}"

    def kill_worker(self) -> str:
        pid = self.workers[0].process.pid
        self.workers[0].kill()
        return f"kill -9 worker 0 (pid {pid})"

    def start_worker(self) -> str:
        self.workers[0] = Worker(self.url, self.env, self.workdir / "worker0-again.log")
        return "worker 0 started again"

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        for web in self.webs:
            web.stop()


def print_phases(acked: Acknowledged, phases: list[tuple[str, float]]) -> None:
    """Requests answered 2xx and not, between one blow and the next."""
    print()
    print(f"{'from':<72} {'s':>5} {'2xx':>6} {'other':>6}")
    for (name, start), (_, end) in itertools.pairwise(phases):
        within = [ok for at, ok in acked.outcomes if start <= at < end]
        print(f"{name[:72]:<72} {end - start:5.1f} {sum(within):6d} {len(within) - sum(within):6d}")


def print_report(acked: Acknowledged, sink_path: Path, live: list[str], problems: list[str]) -> None:
    sent = sum(1 for line in sink_path.read_text(encoding="utf-8").splitlines() if line)
    print()
    print(
        f"acknowledged: {len(acked.tickets)} tickets ({len(acked.files)} with a file), "
        f"{len(acked.replies)} replies, {len(acked.mails)} inbound mails; {sent} mails reached the SMTP sink"
    )
    heard = ", ".join(f"{count} {kind}" for kind, count in Counter(live).most_common()) or "none"
    print(f"live events heard on the surviving process after the last blow: {heard}")
    if problems:
        print(f"LOST OR BROKEN ({len(problems)}):")
        for problem in problems[:50]:
            print(f"  - {problem}")
    else:
        print("nothing acknowledged was lost; every job ran; no mail was sent twice")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(f"load average at start: {facts.load_average()}")
    code = 1
    workdir = Path(tempfile.mkdtemp(prefix="ticketry-chaos-"))
    try:
        with own_cluster() as cluster:
            code = run(cluster, args, workdir)
    finally:
        print(f"load average at end: {facts.load_average()}")
        if code:
            print(f"the processes' logs are in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
