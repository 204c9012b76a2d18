"""Seeding a benchmark database straight through the driver, bypassing the app.

The schema always comes from the real migrations. For speed, the secondary indexes, foreign
keys and search triggers of the two big tables are dropped before loading and recreated from
their own definitions afterwards; the schema is snapshotted before and compared after, so the
database ends up exactly as the migrations define it.

PostgreSQL: COPY on two connections at once (tickets | messages, triggers off), then each
ticket's search documents built by the migration's function on two connections, indexes two at a
time, VACUUM ANALYZE.
SQLite: executemany in large transactions, then the FTS5 indexes rebuilt in one pass.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from bench import data
from ticketry.auth.passwords import hash_password
from ticketry.migrations import upgrade

BIG_TABLES = ("tickets", "messages", "search_documents")


@dataclass(frozen=True)
class SeedResult:
    tickets: int
    messages: int
    seconds: float
    reused: bool
    phases: dict[str, float]


def log(message: str) -> None:
    print(f"[seed {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Phases:
    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.started = time.perf_counter()

    def done(self, name: str, since: float) -> float:
        now = time.perf_counter()
        self.times[name] = round(now - since, 2)
        log(f"{name}: {now - since:.1f} s")
        return now


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(" ", "microseconds")


def _naive(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _small_rows(gen: data.Generator, stamp: float) -> dict[str, tuple[list[str], list[tuple[object, ...]]]]:
    """Organizations, categories, tags, users and memberships, as (columns, rows) per table."""
    plan = gen.plan
    hashed = hash_password(data.PASSWORD)
    known = {data.ADMIN_ID, data.AGENT_ID, data.CUSTOMER_ID}
    users: list[tuple[object, ...]] = [
        (
            u.id,
            u.email,
            u.name,
            u.role,
            hashed if u.id in known else None,
            u.organization_id,
            True,
            stamp,
            stamp,
        )
        for u in gen.users()
    ]
    return {
        "organizations": (
            ["id", "name", "shared", "created_at"],
            [(i, f"Organization {i}", i % 3 == 0, stamp) for i in range(1, plan.organizations + 1)],
        ),
        "categories": (
            ["id", "name", "description", "is_active", "created_at"],
            [(i, f"Category {i}", "", True, stamp) for i in range(1, plan.categories + 1)],
        ),
        "tags": (["id", "name", "color"], [(i, f"tag{i}", "#6b7280") for i in range(1, plan.tags + 1)]),
        "users": (
            [
                "id",
                "email",
                "name",
                "role",
                "password_hash",
                "organization_id",
                "is_active",
                "created_at",
                "updated_at",
            ],
            users,
        ),
        "department_members": (["department_id", "user_id"], list(gen.memberships())),
    }


# --- PostgreSQL ---------------------------------------------------------------------------------


def _pg_conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _pg_schema(conn: psycopg.Connection) -> list[tuple[str, str, str]]:
    rows = conn.execute(
        """
        SELECT c.relname, i.relname, pg_get_indexdef(i.oid)
        FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class c ON c.oid = x.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public'
        UNION ALL
        SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace
        UNION ALL
        SELECT table_name, column_name, data_type || coalesce(generation_expression, '')
        FROM information_schema.columns WHERE table_schema = 'public'
        ORDER BY 1, 2
        """
    ).fetchall()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def _pg_deferrable(conn: psycopg.Connection) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """The secondary indexes and the foreign keys of the big tables: (name, ddl), (table, name, ddl)."""
    indexes = conn.execute(
        """
        SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x
        JOIN pg_class i ON i.oid = x.indexrelid
        WHERE x.indrelid = ANY(%s::regclass[])
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
        ORDER BY pg_relation_size(x.indrelid) DESC, i.relname
        """,
        [list(BIG_TABLES)],
    ).fetchall()
    foreign = conn.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE contype = 'f' AND conrelid = ANY(%s::regclass[]) ORDER BY 1, 2",
        [list(BIG_TABLES)],
    ).fetchall()
    return [(str(n), str(d)) for n, d in indexes], [(str(t), str(n), str(d)) for t, n, d in foreign]


def _pg_text(value: object, is_time: bool) -> str:
    if value is None:
        return "\\N"
    if is_time:
        return _iso(value)  # type: ignore[arg-type]
    if value is True:
        return "t"
    if value is False:
        return "f"
    return str(value)


def _pg_copy_rows(rows: Iterable[Sequence[object]], times: Sequence[bool]) -> bytes:
    lines = ["\t".join([_pg_text(v, t) for v, t in zip(row, times, strict=True)]) for row in rows]
    return ("\n".join(lines) + "\n").encode() if lines else b""


def _copy_text(rows: list[tuple[object, ...]]) -> bytes:
    """Rows whose values are already COPY text (see data.Format)."""
    return "".join(["\t".join(row) + "\n" for row in rows]).encode()  # type: ignore[arg-type]


def pg_database_exists(url: str) -> bool:
    try:
        with psycopg.connect(_pg_conninfo(url), connect_timeout=5) as conn:
            found = conn.execute("SELECT 1 FROM users WHERE email = %s", [data.ADMIN_EMAIL]).fetchone()
            return found is not None
    except psycopg.Error:
        return False


def pg_counts(url: str) -> tuple[int, int]:
    with psycopg.connect(_pg_conninfo(url)) as conn:
        tickets = conn.execute("SELECT count(*) FROM tickets").fetchone()
        messages = conn.execute("SELECT count(*) FROM messages").fetchone()
        return int(tickets[0]) if tickets else 0, int(messages[0]) if messages else 0


def seed_postgres(url: str, plan: data.Plan) -> SeedResult:
    phases = Phases()
    t = phases.started
    target = make_url(url)
    admin_info = _pg_conninfo(target.set(database="postgres").render_as_string(hide_password=False))
    with psycopg.connect(admin_info, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{target.database}"')
    upgrade(url)
    t = phases.done("migrate", t)

    info = _pg_conninfo(url)
    gen = data.Generator(plan, data.Format(text=True, aware=True))
    with psycopg.connect(info) as conn:
        before = _pg_schema(conn)
        indexes, foreign = _pg_deferrable(conn)
        for table, name, _ in foreign:
            conn.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
        for name, _ in indexes:
            conn.execute(f"DROP INDEX {name}")
        for table, (columns, rows) in _small_rows(gen, plan.end).items():
            times = [c in ("created_at", "updated_at") for c in columns]
            with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                copy.write(_pg_copy_rows(rows, times))
        conn.commit()
    t = phases.done("users and reference data", t)

    tickets, messages, watchers, tags = _pg_load_big(info, gen)
    t = phases.done(f"COPY {tickets:,} tickets + {messages:,} messages", t)

    with psycopg.connect(info, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO ticket_number_sequences (year, last_value)"
            " SELECT * FROM unnest(%s::int[], %s::int[])",
            [list(gen.numbers), list(gen.numbers.values())],
        )
        for table in ("users", "organizations", "categories", "tags", "tickets", "messages"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
            )
        for table, rows in (("ticket_watchers", watchers), ("ticket_tags", tags)):
            columns = "ticket_id, user_id" if table == "ticket_watchers" else "ticket_id, tag_id"
            with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                copy.write(_pg_copy_rows(rows, (False, False)))

    def build(ddl: str) -> None:
        with psycopg.connect(info, autocommit=True) as c:
            c.execute("SET maintenance_work_mem = '1GB'")
            c.execute("SET max_parallel_maintenance_workers = 1")
            started = time.perf_counter()
            c.execute(ddl)
            log(f"  {time.perf_counter() - started:6.1f} s  {ddl[:90]}")

    # The documents are built ticket by ticket from their messages: that lookup needs its index
    # first (without it, every ticket's lookup reads all 5,000,000 messages: days, not minutes).
    lookup = [ddl for _, ddl in indexes if " ON public.messages " in ddl and "(ticket_id" in ddl]
    for ddl in lookup:
        build(ddl)
    _pg_documents(info, tickets)
    t = phases.done("search documents", t)

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(build, [ddl for _, ddl in indexes if ddl not in lookup]))
    t = phases.done("indexes", t)
    with psycopg.connect(info, autocommit=True) as conn:
        for table, name, ddl in foreign:
            conn.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {ddl}")
        t = phases.done("foreign keys", t)
        conn.execute("VACUUM (ANALYZE)")
        t = phases.done("vacuum analyze", t)
        after = _pg_schema(conn)
    if sorted(before) != sorted(after):
        missing = sorted(set(before) - set(after))
        extra = sorted(set(after) - set(before))
        raise RuntimeError(f"schema differs from the migrations: missing {missing}, extra {extra}")
    log("schema verified: identical to the migrated one")
    return SeedResult(tickets, messages, round(time.perf_counter() - phases.started, 1), False, phases.times)


def _pg_load_big(
    info: str, gen: data.Generator
) -> tuple[int, int, list[tuple[int, int]], list[tuple[int, int]]]:
    watchers: list[tuple[int, int]] = []
    tags: list[tuple[int, int]] = []
    counts = [0, 0]
    with psycopg.connect(info) as tconn, psycopg.connect(info) as mconn:
        for conn in (tconn, mconn):
            conn.execute("SET synchronous_commit = off")
            # No triggers: the search documents are built afterwards, in slices (`_pg_documents`).
            conn.execute("SET session_replication_role = replica")
        with (
            tconn.cursor().copy(f"COPY tickets ({', '.join(data.TICKET_COLUMNS)}) FROM STDIN") as tcopy,
            mconn.cursor().copy(f"COPY messages ({', '.join(data.MESSAGE_COLUMNS)}) FROM STDIN") as mcopy,
        ):
            report = time.perf_counter()
            for batch in gen.batches():
                tcopy.write(_copy_text(batch.tickets))
                mcopy.write(_copy_text(batch.messages))
                watchers += batch.watchers
                tags += batch.ticket_tags
                counts[0] += len(batch.tickets)
                counts[1] += len(batch.messages)
                if time.perf_counter() - report > 15:
                    report = time.perf_counter()
                    log(f"  {counts[0]:,} tickets sent")
        tconn.commit()
        mconn.commit()
    return counts[0], counts[1], watchers, tags


def _pg_documents(info: str, tickets: int) -> None:
    """Every ticket's search documents, by the migration's own function, on two connections."""
    step = 25_000

    def build(first: int) -> None:
        with psycopg.connect(info, autocommit=True) as conn:
            conn.execute("SELECT search_documents_build(%s, %s)", [first, first + step - 1])

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(build, range(1, tickets + 1, step)))


# --- SQLite -------------------------------------------------------------------------------------


def sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database:
        raise ValueError("the SQLite URL needs a file path")
    return Path(database)


def sqlite_database_exists(url: str) -> bool:
    path = sqlite_path(url)
    if not path.exists():
        return False
    try:
        with sqlite3.connect(path) as conn:
            return (
                conn.execute("SELECT 1 FROM users WHERE email = ?", [data.ADMIN_EMAIL]).fetchone() is not None
            )
    except sqlite3.Error:
        return False


def sqlite_counts(url: str) -> tuple[int, int]:
    with sqlite3.connect(sqlite_path(url)) as conn:
        return (
            conn.execute("SELECT count(*) FROM tickets").fetchone()[0],
            conn.execute("SELECT count(*) FROM messages").fetchone()[0],
        )


def _sqlite_schema(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    return [
        (str(t), str(n), str(s))
        for t, n, s in conn.execute(
            "SELECT type, name, coalesce(sql, '') FROM sqlite_master"
            " WHERE name NOT LIKE 'sqlite_stat%' ORDER BY 1, 2"
        )
    ]


def seed_sqlite(url: str, plan: data.Plan) -> SeedResult:
    phases = Phases()
    t = phases.started
    path = sqlite_path(url)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    upgrade(url)
    t = phases.done("migrate", t)
    gen = data.Generator(plan, data.Format(text=False, aware=False))
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in ("journal_mode=WAL", "synchronous=OFF", "cache_size=-1000000", "temp_store=MEMORY"):
            conn.execute(f"PRAGMA {pragma}")
        before = _sqlite_schema(conn)
        # The full-text tables (whatever the migrations call them) are rebuilt once at the end,
        # so the triggers that keep them current row by row wait until then.
        fts = [
            str(name)
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%USING fts5%'"
            )
        ]
        deferred = [
            (kind, name, sql)
            for kind, name, sql in conn.execute(
                "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
                " AND type IN ('index', 'trigger') AND tbl_name IN ('tickets', 'messages')"
            )
            if kind == "index" or any(table in sql for table in fts)
        ]
        for kind, name, _ in deferred:
            conn.execute(f"DROP {kind.upper()} {name}")
        conn.execute("BEGIN")
        for table, (columns, rows) in _small_rows(gen, plan.end).items():
            timed = [c in ("created_at", "updated_at") for c in columns]
            converted = [
                tuple(
                    _naive(v) if is_t and isinstance(v, float) else v
                    for v, is_t in zip(r, timed, strict=True)
                )
                for r in rows
            ]
            marks = ", ".join("?" * len(columns))
            conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", converted)
        conn.execute("COMMIT")
        t = phases.done("users and reference data", t)

        tickets, messages = _sqlite_load_big(conn, gen)
        t = phases.done(f"insert {tickets:,} tickets + {messages:,} messages", t)
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO ticket_number_sequences (year, last_value) VALUES (?, ?)", list(gen.numbers.items())
        )
        conn.execute("COMMIT")
        for kind, _, sql in sorted(deferred, key=lambda d: d[0] != "index"):
            if kind == "index":
                conn.execute(sql)
        t = phases.done("indexes", t)
        for table in fts:
            conn.execute(f"INSERT INTO {table}({table}) VALUES ('rebuild')")
        for kind, _, sql in deferred:
            if kind == "trigger":
                conn.execute(sql)
        t = phases.done("FTS5 rebuild", t)
        conn.execute("ANALYZE")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        t = phases.done("analyze + checkpoint", t)
        after = _sqlite_schema(conn)
        problems = conn.execute("PRAGMA foreign_key_check").fetchmany(5)
    finally:
        conn.close()
    if before != after:
        raise RuntimeError("schema differs from the migrated one")
    if problems:
        raise RuntimeError(f"foreign key violations: {problems}")
    log("schema verified: identical to the migrated one; foreign keys check out")
    return SeedResult(tickets, messages, round(time.perf_counter() - phases.started, 1), False, phases.times)


def _sqlite_load_big(conn: sqlite3.Connection, gen: data.Generator) -> tuple[int, int]:
    def insert(table: str, columns: list[str]) -> str:
        return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"

    counts = [0, 0]
    conn.execute("BEGIN")
    for n, batch in enumerate(gen.batches(), start=1):
        conn.executemany(insert("tickets", data.TICKET_COLUMNS), batch.tickets)
        conn.executemany(insert("messages", data.MESSAGE_COLUMNS), batch.messages)
        conn.executemany(insert("ticket_watchers", ["ticket_id", "user_id"]), batch.watchers)
        conn.executemany(insert("ticket_tags", ["ticket_id", "tag_id"]), batch.ticket_tags)
        counts[0] += len(batch.tickets)
        counts[1] += len(batch.messages)
        if n % 10 == 0:
            conn.execute("COMMIT")
            conn.execute("BEGIN")
    conn.execute("COMMIT")
    return counts[0], counts[1]
