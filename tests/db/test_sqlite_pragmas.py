"""SQLite run the way a server database needs it (core/db.py): WAL, foreign keys, a busy timeout,
and `BEGIN IMMEDIATE` for writers so that concurrent writers queue instead of failing, taking
turns on a lock file first (`WriteQueue`)."""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from tests.factories import make_customer
from tests.threads import together

from ticketry.core.db import BUSY_TIMEOUT_SECONDS, Database, WriteQueue
from ticketry.history.models import TicketEvent
from ticketry.tickets import service as ticket_service
from ticketry.tickets.models import Ticket


@pytest.fixture
def sqlite_path(tmp_path: Path, sqlite_template: Path) -> Path:
    path = tmp_path / "pragmas.db"
    shutil.copyfile(sqlite_template, path)
    return path


@pytest.fixture
def sqlite_db(sqlite_path: Path) -> Iterator[Database]:
    database = Database.connect(f"sqlite:///{sqlite_path}", pool_size=5)
    yield database
    database.dispose()


def other_writer(path: Path) -> sqlite3.Connection:
    """A plain connection that gives up at once when the write lock is taken."""
    connection = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA busy_timeout=0")
    return connection


class TestPragmas:
    @pytest.mark.parametrize("write", [True, False], ids=["writer", "reader"])
    def test_every_connection_is_configured(self, sqlite_db: Database, write: bool) -> None:
        with sqlite_db.unit_of_work(write=write) as session:
            assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert (session.execute(text("PRAGMA busy_timeout")).scalar() or 0) >= 5000

    def test_pooled_connections_opened_concurrently_are_all_configured(self, sqlite_db: Database) -> None:
        with sqlite_db.engine.connect() as first, sqlite_db.engine.connect() as second:
            for connection in (first, second):
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
                assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"

    def test_foreign_keys_are_enforced(self, sqlite_db: Database) -> None:
        with pytest.raises(IntegrityError), sqlite_db.unit_of_work() as session:
            session.add(TicketEvent(ticket_id=424242, field="status", automatic=False, is_internal=False))
            session.flush()


class TestWriteTransactions:
    def test_a_write_unit_takes_the_write_lock_when_it_begins(
        self, sqlite_db: Database, sqlite_path: Path
    ) -> None:
        outsider = other_writer(sqlite_path)
        try:
            with sqlite_db.unit_of_work() as session:
                session.execute(select(func.count()).select_from(Ticket)).scalar()  # reads only, so far
                with pytest.raises(sqlite3.OperationalError, match="locked"):
                    outsider.execute("BEGIN IMMEDIATE")
            outsider.execute("BEGIN IMMEDIATE")  # released at commit
            outsider.execute("ROLLBACK")
        finally:
            outsider.close()

    def test_a_read_unit_does_not_block_writers(self, sqlite_db: Database, sqlite_path: Path) -> None:
        outsider = other_writer(sqlite_path)
        try:
            with sqlite_db.unit_of_work(write=False) as session:
                session.execute(select(func.count()).select_from(Ticket)).scalar()
                outsider.execute("BEGIN IMMEDIATE")
                outsider.execute("ROLLBACK")
        finally:
            outsider.close()

    def test_concurrent_read_then_write_units_all_succeed(self, sqlite_db: Database) -> None:
        """Each unit reads, pauses, then writes: with deferred transactions two of them would
        deadlock on the lock upgrade and one would fail with "database is locked"."""
        customer = make_customer(sqlite_db)
        threads_count, rounds = 4, 3

        def work() -> None:
            for _ in range(rounds):
                with sqlite_db.unit_of_work() as session:
                    session.execute(select(func.count()).select_from(Ticket)).scalar()
                    time.sleep(0.05)
                    ticket_service.create_ticket(session, customer.actor, title="t", description="d")

        together([work] * threads_count)
        with sqlite_db.unit_of_work(write=False) as session:
            assert session.scalar(select(func.count()).select_from(Ticket)) == threads_count * rounds


def queue_is_free(path: Path) -> bool:
    """Whether another process could take its turn to write now (`core.db.WriteQueue`): a lock
    on the queue file through a descriptor of its own, which conflicts as another process's would."""
    descriptor = os.open(f"{path}-writers", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)  # and the lock with it
    return True


class TestWriteQueue:
    """Writers take turns on `<database>-writers` before SQLite's lock (core.db.WriteQueue)."""

    def test_a_write_holds_the_turn_until_it_commits(self, sqlite_db: Database, sqlite_path: Path) -> None:
        assert queue_is_free(sqlite_path)
        with sqlite_db.unit_of_work() as session:
            assert queue_is_free(sqlite_path), "a write unit that has run nothing has not begun"
            session.execute(select(func.count()).select_from(Ticket)).scalar()
            assert not queue_is_free(sqlite_path)
        assert queue_is_free(sqlite_path)

    def test_a_failed_write_gives_up_its_turn(self, sqlite_db: Database, sqlite_path: Path) -> None:
        with pytest.raises(RuntimeError), sqlite_db.unit_of_work() as session:
            session.execute(select(func.count()).select_from(Ticket)).scalar()
            assert not queue_is_free(sqlite_path)
            raise RuntimeError("the request failed")
        assert queue_is_free(sqlite_path)

    def test_a_rollback_gives_up_the_turn_and_the_next_statement_takes_it_again(
        self, sqlite_db: Database, sqlite_path: Path
    ) -> None:
        with sqlite_db.unit_of_work() as session:
            session.execute(select(func.count()).select_from(Ticket)).scalar()
            session.rollback()
            assert queue_is_free(sqlite_path)
            session.execute(select(func.count()).select_from(Ticket)).scalar()
            assert not queue_is_free(sqlite_path)
        assert queue_is_free(sqlite_path)

    def test_a_closed_connection_gives_up_its_turn(self, sqlite_db: Database, sqlite_path: Path) -> None:
        connection = sqlite_db.engine.connect().execution_options(ticketry_write=True)
        connection.exec_driver_sql("SELECT 1")
        assert not queue_is_free(sqlite_path)
        connection.invalidate()  # the driver's connection closed mid-transaction
        assert queue_is_free(sqlite_path)
        connection.close()

    def test_reads_never_wait_for_the_turn(self, sqlite_db: Database, sqlite_path: Path) -> None:
        with sqlite_db.unit_of_work() as writing:
            writing.execute(select(func.count()).select_from(Ticket)).scalar()
            with sqlite_db.unit_of_work(write=False) as reading:
                assert reading.scalar(select(func.count()).select_from(Ticket)) is not None
            assert not queue_is_free(sqlite_path)

    def test_a_second_write_in_the_same_thread_fails_instead_of_waiting_for_itself(
        self, sqlite_db: Database, sqlite_path: Path
    ) -> None:
        queue = WriteQueue.of(str(sqlite_path))
        queue.timeout = 0.2
        try:
            with sqlite_db.unit_of_work() as outer:
                outer.execute(select(func.count()).select_from(Ticket)).scalar()
                with (
                    pytest.raises(OperationalError, match="database is locked"),
                    sqlite_db.unit_of_work() as inner,
                ):
                    inner.execute(select(func.count()).select_from(Ticket)).scalar()
        finally:
            queue.timeout = BUSY_TIMEOUT_SECONDS
        assert queue_is_free(sqlite_path)

    def test_without_a_lock_file_writers_meet_at_sqlites_lock(
        self, tmp_path: Path, sqlite_template: Path
    ) -> None:
        """A lock file that cannot be opened (here a directory in its place; in life one another
        user made) costs the queue, not the writes."""
        path = tmp_path / "elsewhere.db"
        shutil.copyfile(sqlite_template, path)
        Path(f"{path}-writers").mkdir()
        database = Database.connect(f"sqlite:///{path}", pool_size=2)
        try:
            customer = make_customer(database)
            with database.unit_of_work() as session:
                ticket_service.create_ticket(session, customer.actor, title="t", description="d")
            with database.unit_of_work(write=False) as session:
                assert session.scalar(select(func.count()).select_from(Ticket)) == 1
        finally:
            database.dispose()

    def test_engines_on_one_file_share_the_queue(self, sqlite_db: Database, sqlite_path: Path) -> None:
        other = Database.connect(f"sqlite:///{sqlite_path}", pool_size=1)
        try:
            customer = make_customer(sqlite_db)

            def create(db: Database) -> None:
                for _ in range(10):
                    with db.unit_of_work() as session:
                        ticket_service.create_ticket(session, customer.actor, title="t", description="d")

            together([partial(create, db) for db in (sqlite_db, other, sqlite_db, other)])
            with other.unit_of_work(write=False) as session:
                assert session.scalar(select(func.count()).select_from(Ticket)) == 40
        finally:
            other.dispose()
        assert queue_is_free(sqlite_path)
