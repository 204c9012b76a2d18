"""Engine, sessions and the unit of work.

Only this module (and the job worker, through `unit_of_work`) commits: one Session per request
or job, committed on success and rolled back on any error (docs/architecture.md §4).

SQLite is run the way a server database needs it: WAL, foreign keys on, a busy timeout, and
`BEGIN IMMEDIATE` for write transactions so that two writers queue on the lock instead of
failing half-way with SQLITE_BUSY. Read-only units begin deferred and see one snapshot. A new
database file is created readable by its owner only (its -wal and -shm files follow it).

Text is stored the same way on both backends (issue 12, item 12): a NUL, which PostgreSQL cannot
store and SQLite would, is refused (422) in any text or JSON value set on a mapped object, so no
row or job payload holds one; a single-line column (VARCHAR: titles, names, subjects, file names)
stores each line break (CR LF, CR, LF and the others `str.splitlines` knows) as one space, so a
title is one line wherever it is shown or sent. Requests with other control characters are
refused before this, with the field named (`core.schemas`); this is the one place that knows
which text is single-line, and the backstop for every writer (web, API, mail, the CLI).
Statements built by hand (`insert().values()`) are not covered.
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    DateTime,
    Engine,
    Enum,
    FromClause,
    MetaData,
    Select,
    SQLColumnExpression,
    String,
    Table,
    Text,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapper, Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql import coercions, roles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator, TypeEngine

from ticketry.core.clock import as_utc
from ticketry.core.errors import DomainError, ValidationFailed

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# --- text both backends can store -------------------------------------------------------------

# A line break as `str.splitlines` sees it, CR LF counting as one.
_LINE_BREAK = re.compile("\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")


def _has_nul(value: object) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False


def _refuse_nul(target: object, key: str, value: object) -> None:
    if _has_nul(value):
        field = f"{getattr(target, '__tablename__', type(target).__name__)}.{key}"
        raise ValidationFailed(
            "Text cannot contain a NUL character.", details={"field": field, "character": "U+0000"}
        )


AttributeHook = Callable[[Any, Any, Any, Any], Any]


def _single_line(target: object, value: Any, _old: Any, initiator: Any) -> Any:
    if isinstance(value, str):
        if "\x00" in value:
            _refuse_nul(target, initiator.key, value)
        if _LINE_BREAK.search(value):
            return _LINE_BREAK.sub(" ", value)
    return value


def _text(target: object, value: Any, _old: Any, initiator: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        _refuse_nul(target, initiator.key, value)
    return value


def _json(target: object, value: Any, _old: Any, initiator: Any) -> Any:
    _refuse_nul(target, initiator.key, value)
    return value


def _text_hook(column_type: TypeEngine[Any]) -> AttributeHook | None:
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    if isinstance(column_type, Enum):  # enum members: fixed values, nothing to check
        return None
    if isinstance(column_type, Text):  # Text is a String: test it first
        return _text
    if isinstance(column_type, String):
        return _single_line
    if isinstance(column_type, JSON):
        return _json
    return None


@event.listens_for(Base, "mapper_configured", propagate=True)
def _hold_text_to_the_rule(mapper: Mapper[Any], class_: type[Any]) -> None:
    for prop in mapper.column_attrs:
        hook = _text_hook(prop.columns[0].type)
        if hook is not None:
            event.listen(getattr(class_, prop.key), "set", hook, retval=True)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else as_utc(value)


def normalize_url(url: str) -> str:
    """Accept the URLs people paste (`postgres://`, `postgresql://`) and pick psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# How long a SQLite writer waits for the write lock (and for its turn, `WriteQueue`).
BUSY_TIMEOUT_SECONDS = 30


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # Take transaction control away from the driver so that BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "journal_mode=WAL",
            "synchronous=NORMAL",
            "foreign_keys=ON",
            f"busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}",
            "temp_store=MEMORY",
            "cache_size=-16384",  # 16 MB per pooled connection
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    database = engine.url.database or ":memory:"
    in_file = database != ":memory:" and not database.startswith("file:")
    queue = WriteQueue.of(database) if in_file else None

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if not conn.get_execution_options().get("ticketry_write", False):
            conn.exec_driver_sql("BEGIN")
            return
        if queue is None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            return
        dbapi_connection = conn.connection.dbapi_connection
        queue.wait(dbapi_connection)
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            queue.leave(dbapi_connection)
            raise

    if queue is not None:
        # The transaction ends in the driver (COMMIT, ROLLBACK, or the connection closed): the
        # next writer's turn begins there, in whichever thread that happens.
        dialect = engine.dialect
        for name in ("do_commit", "do_rollback", "do_close"):
            setattr(dialect, name, queue.leaving(getattr(dialect, name)))


class WriteQueue:
    """Writers to one SQLite file, in every process, wait for their turn here before `BEGIN
    IMMEDIATE`, instead of at SQLite's lock.

    A writer that finds SQLite's write lock taken sleeps 1, 2, 5, 10, 15, 20, 25 … 100 ms between
    tries (its busy handler), so under load the lock sat free while writers slept, and who got it
    next was luck: one create in twenty waited about a second, one in a hundred 2.4 s
    (bench/README.md, "SQLite writers"). Here the threads of a process take turns on a lock, and
    the one whose turn it is waits for the other processes on the lock file `<database>-writers`
    (flock), which the kernel hands on the moment it is released. A turn ends with the transaction (commit,
    rollback, or the connection closed; a process that dies lets go of the file). A thread that
    already holds the turn and begins a second write (nested transactions) waits the busy timeout
    and fails as SQLite would have, instead of waiting for itself for ever. Waiting for the file
    has no timeout: a process stopped in the middle of a write (SIGSTOP, a debugger) holds every
    other process's writers until it goes on or dies, where SQLite failed them after 30 s."""

    _queues: ClassVar[dict[str, WriteQueue]] = {}
    _queues_lock = threading.Lock()

    @classmethod
    def of(cls, database: str) -> WriteQueue:
        """The queue of the file: one per process, however many engines it has open on it."""
        path = os.path.realpath(database)
        with cls._queues_lock:
            queue = cls._queues.get(path)
            if queue is None:
                queue = cls._queues[path] = cls(path)
            return queue

    def __init__(self, database: str, *, timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        self.database = database
        self.path = f"{database}-writers"
        self.timeout = timeout
        self._turn = threading.Lock()  # among this process's threads
        self._holder: int | None = None  # id() of the DBAPI connection whose turn it is
        self._file: tuple[int, int | None] | None = None  # (pid, descriptor): a fork opens its own

    def _descriptor(self) -> int | None:
        """The lock file, opened once per process, or None when it cannot be opened (a directory
        this user may not write to, a file another user made): the processes then meet at
        SQLite's lock only, as before the queue. Made by root (`ticketry migrate` run as root),
        it is handed to the database file's owner, as SQLite does with its -wal and -shm files,
        so that the service can still open it."""
        pid = os.getpid()
        if self._file is None or self._file[0] != pid:
            try:
                descriptor: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                descriptor = None
            if descriptor is not None and os.geteuid() == 0:
                with suppress(OSError):  # no database file yet: nothing to follow
                    owner = os.stat(self.database)
                    os.fchown(descriptor, owner.st_uid, owner.st_gid)
            self._file = (pid, descriptor)
        return self._file[1]

    def wait(self, dbapi_connection: Any) -> None:
        if self._holder == id(dbapi_connection):
            return  # its turn still: its last transaction ended unseen (Alembic ends its own so)
        if not self._turn.acquire(timeout=self.timeout):
            raise OperationalError("BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked"))
        descriptor = self._descriptor()
        try:
            if descriptor is not None:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
        except BaseException:
            self._turn.release()
            raise
        self._holder = id(dbapi_connection)

    def leave(self, dbapi_connection: Any) -> None:
        if self._holder != id(dbapi_connection):
            return  # a reader's transaction, or a writer's whose turn ended already
        self._holder = None
        descriptor = self._descriptor()
        try:
            if descriptor is not None:
                fcntl.flock(descriptor, fcntl.LOCK_UN)
        finally:
            self._turn.release()

    def leaving(self, end: Callable[[Any], None]) -> Callable[[Any], None]:
        """`end` (the dialect's commit, rollback or close), then the next writer's turn."""

        def ended(connection: Any) -> None:
            try:
                end(connection)
            finally:
                # The pool's proxy (commit, rollback) or the driver's connection itself (close).
                self.leave(getattr(connection, "dbapi_connection", connection))

        return ended


def create_private_file(url: str) -> None:
    """Create a SQLite URL's database file readable and writable by its owner only, if it does
    not exist yet (SQLite would make it 0644 under the usual umask: every local user could read
    every ticket and password hash). SQLite gives the -wal and -shm files the database file's
    permissions. An existing file keeps its permissions (docs/configuration.md says how to
    tighten them); in-memory databases and `file:` URIs are left to SQLite."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    try:
        descriptor = os.open(database, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError:  # it exists, or its directory does not: SQLite says so in its own words
        return
    os.close(descriptor)


def make_engine(url: str, *, pool_size: int = 10) -> Engine:
    url = normalize_url(url)
    if url.startswith("sqlite"):
        create_private_file(url)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS},
            pool_size=pool_size,
            max_overflow=pool_size,
        )
        _configure_sqlite(engine)
        return engine
    # No JIT: it compiles any plan above jit_above_cost, which our large counts and searches
    # cross, and the compile (hundreds of ms) costs more than it saves on short queries.
    # No parallel workers: a request's query stops at a page or a cap, and starting workers and
    # merging their rows cost more than they share. A search walking the list for a word in 2 %
    # of a million tickets took 40 ms with two workers, 10 ms without; and under load the
    # workers only take cores from other requests. Reports turn them on (`reading_every_ticket`).
    # Custom plans always: psycopg prepares a statement on its fifth run, and PostgreSQL may then
    # switch to a generic plan that ignores the values; for a sidebar count filtering on a status
    # or a search word that turned 30 ms into 300 ms, and 3 s into 12 s (bench/views.py).
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_pre_ping=True,
        connect_args={
            "options": "-c jit=off -c plan_cache_mode=force_custom_plan -c max_parallel_workers_per_gather=0"
        },
    )


def reading_every_ticket(session: Session) -> None:
    """The rest of this transaction reads every visible ticket (a report): on PostgreSQL its
    queries may share the work with parallel workers again, PostgreSQL's default of two, which
    the application's connections otherwise go without (`make_engine`). An agent's statistics
    at a million tickets took 1.1 s with them, 1.4 without."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 2"))


# A select of any columns, kept as its own type by functions that only narrow or order it.
Selected = TypeVar("Selected", bound=Select[*tuple[Any, ...]])


class among(ColumnElement[bool]):  # noqa: N801 (reads as a clause, like sqlalchemy's and_)
    """`column` is one of the values `ids` selects, written so each database plans it well.

    PostgreSQL: `column = ANY(ARRAY(ids))`, an InitPlan read once, so the planner sees a list
    of values: it fetches by index and can join around it. As `column IN (ids)` inside an OR (an
    agent's "my departments, or assigned to me, or watched by me") it became a hashed SubPlan,
    which kept the planner from driving a search from its 600 matches (447 ms instead of 8 ms
    at a million tickets) and made a capped count hash every readable ticket ("watched by me":
    215 ms, then 9 ms). SQLite: `IN`,
    which it already reads once into an ephemeral index.
    """

    inherit_cache = True
    # Both parts are in the statement cache's key (and its bound values are found in them).
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("ids", InternalTraversal.dp_clauseelement),
    ]
    type = Boolean()
    _is_implicitly_boolean = True  # a comparison: SQLite is not told `… = 1`

    def __init__(self, column: SQLColumnExpression[Any], ids: Select[Any]) -> None:
        self.column: ColumnElement[Any] = coercions.expect(roles.ExpressionElementRole, column)
        self.ids = ids


@compiles(among)
def _among_in(element: among, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(element.ids), **kw)


@compiles(among, "postgresql")
def _among_any(element: among, compiler: SQLCompiler, **kw: Any) -> str:
    ids = compiler.process(element.ids.scalar_subquery(), **kw)
    return f"{compiler.process(element.column, **kw)} = ANY(ARRAY{ids})"


class unlikely(ColumnElement[bool]):  # noqa: N801 (reads as a clause, like sqlalchemy's and_)
    """`clause`, which few rows meet though its statistics say otherwise: SQLite is told
    (`unlikely(…)`), so it finds those rows by an index on the clause's column instead of reading
    the table. PostgreSQL's statistics know the skew (most common values): the clause as it is."""

    inherit_cache = True
    _traverse_internals = [("clause", InternalTraversal.dp_clauseelement)]
    type = Boolean()
    _is_implicitly_boolean = True

    def __init__(self, clause: ColumnElement[bool]) -> None:
        self.clause = clause


@compiles(unlikely)
def _unlikely_told(element: unlikely, compiler: SQLCompiler, **kw: Any) -> str:
    return f"unlikely({compiler.process(element.clause, **kw)})"


@compiles(unlikely, "postgresql")
def _unlikely_as_is(element: unlikely, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clause, **kw)


class joined_ids(ColumnElement[str]):  # noqa: N801 (reads as a function, like sqlalchemy's func.*)
    """An aggregate: the integers of `column`, joined by commas ("3,7"; NULL for no rows), so a
    short list rides along in one row of another query. `split_ids` reads it back."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]
    type = String()

    def __init__(self, column: SQLColumnExpression[int]) -> None:
        self.column: ColumnElement[Any] = coercions.expect(roles.ExpressionElementRole, column)


@compiles(joined_ids)
def _joined_ids_group_concat(element: joined_ids, compiler: SQLCompiler, **kw: Any) -> str:
    return f"group_concat({compiler.process(element.column, **kw)}, ',')"


@compiles(joined_ids, "postgresql")
def _joined_ids_string_agg(element: joined_ids, compiler: SQLCompiler, **kw: Any) -> str:
    return f"string_agg(CAST({compiler.process(element.column, **kw)} AS text), ',')"


def split_ids(joined: str | None) -> frozenset[int]:
    return frozenset(int(part) for part in joined.split(",")) if joined else frozenset()


class json_rows(ColumnElement[list[list[Any]]]):  # noqa: N801 (reads as a function, like sqlalchemy's func.*)
    """An aggregate: each row's `columns` as a JSON array, all of them in one JSON array (`[]` for
    no rows) by `order_by`, read back as Python lists, so a short list of rows rides along in one
    row of another query (a listed ticket's tags). PostgreSQL orders inside the aggregate.
    SQLite before 3.44 cannot: select the rows from a subquery ordered the same way (SQLite
    aggregates a subquery's rows in the order it gives them)."""

    inherit_cache = True
    _traverse_internals = [
        ("columns", InternalTraversal.dp_clauseelement_tuple),
        ("order_by", InternalTraversal.dp_clauseelement),
    ]
    type = JSON()

    def __init__(self, *columns: SQLColumnExpression[Any], order_by: SQLColumnExpression[Any]) -> None:
        self.columns = tuple(coercions.expect(roles.ExpressionElementRole, column) for column in columns)
        self.order_by: ColumnElement[Any] = coercions.expect(roles.ExpressionElementRole, order_by)

    @property
    def _from_objects(self) -> list[FromClause]:
        return [table for column in self.columns for table in column._from_objects]


@compiles(json_rows)
def _json_group_array(element: json_rows, compiler: SQLCompiler, **kw: Any) -> str:
    columns = ", ".join(compiler.process(column, **kw) for column in element.columns)
    return f"json_group_array(json_array({columns}))"


@compiles(json_rows, "postgresql")
def _json_agg(element: json_rows, compiler: SQLCompiler, **kw: Any) -> str:
    columns = ", ".join(compiler.process(column, **kw) for column in element.columns)
    order = compiler.process(element.order_by, **kw)
    return f"coalesce(json_agg(json_build_array({columns}) ORDER BY {order}), '[]'::json)"


def upsert(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT of this session's dialect, which has `on_conflict_do_update/_nothing`: the one
    statement that cannot fail when two requests create the same row at once."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


@dataclass(frozen=True)
class Database:
    """The engine plus one session factory for reads and one for writes."""

    engine: Engine
    reader: sessionmaker[Session]
    writer: sessionmaker[Session]

    @classmethod
    def connect(cls, url: str, *, pool_size: int = 10) -> Database:
        engine = make_engine(url, pool_size=pool_size)
        write_engine = engine.execution_options(ticketry_write=True)
        return cls(
            engine=engine,
            reader=sessionmaker(bind=engine, expire_on_commit=False),
            writer=sessionmaker(bind=write_engine, expire_on_commit=False),
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def unit_of_work(self, *, write: bool = True) -> Iterator[Session]:
        """One transaction: committed if the block returns, rolled back if it raises."""
        factory = self.writer if write else self.reader
        with factory() as session:
            try:
                yield session
                session.commit()
            except DomainError as error:
                if error.keep_changes:
                    session.commit()
                else:
                    session.rollback()
                raise
            except BaseException:
                session.rollback()
                raise

    def ping(self) -> None:
        with self.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")

    def dispose(self) -> None:
        self.engine.dispose()


QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a statement stopped by statement_timeout
# SQLite calls the progress handler every this many virtual-machine steps (well under a millisecond).
SQLITE_PROGRESS_STEPS = 10_000


class TookTooLong(Exception):
    """A time-boxed statement was stopped (see `time_boxed`)."""


@contextmanager
def time_boxed(session: Session, milliseconds: int) -> Iterator[None]:
    """Stop the reads in the block once they have run `milliseconds`, raising `TookTooLong`; the
    session stays usable. For answers that are nice to have (a sidebar badge) and must never hold
    a page up: PostgreSQL's `statement_timeout` inside a savepoint, SQLite's progress handler
    (an interrupted SELECT leaves its transaction as it was)."""
    if session.get_bind().dialect.name == "postgresql":
        prior = session.execute(text("SELECT current_setting('statement_timeout')")).scalar_one()
        try:
            with session.begin_nested():
                session.execute(
                    text("SELECT set_config('statement_timeout', :ms, true)"),
                    {"ms": str(max(milliseconds, 1))},
                )
                yield
                session.execute(text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": prior})
        except OperationalError as error:
            if getattr(error.orig, "sqlstate", None) == QUERY_CANCELED:
                raise TookTooLong from error
            raise
        return
    raw = session.connection().connection.driver_connection
    assert raw is not None  # a checked-out connection always has its driver connection
    deadline = time.monotonic() + milliseconds / 1000
    raw.set_progress_handler(lambda: int(time.monotonic() > deadline), SQLITE_PROGRESS_STEPS)
    try:
        yield
    except OperationalError as error:
        if "interrupted" in str(error.orig):
            raise TookTooLong from error
        raise
    finally:
        raw.set_progress_handler(None, SQLITE_PROGRESS_STEPS)
