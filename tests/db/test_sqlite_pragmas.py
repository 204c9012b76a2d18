"""SQLite run the way a server database needs it (core/db.py): WAL, foreign keys, a busy timeout,
and `BEGIN IMMEDIATE` for writers so that concurrent writers queue instead of failing."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from tests.factories import make_customer

from ticketry.core.db import Database
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
        start = threading.Barrier(threads_count)
        errors: list[BaseException] = []

        def work() -> None:
            try:
                start.wait()
                for _ in range(rounds):
                    with sqlite_db.unit_of_work() as session:
                        session.execute(select(func.count()).select_from(Ticket)).scalar()
                        time.sleep(0.05)
                        ticket_service.create_ticket(session, customer.actor, title="t", description="d")
            except BaseException as error:  # collected and asserted below
                errors.append(error)

        threads = [threading.Thread(target=work) for _ in range(threads_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert errors == []
        with sqlite_db.unit_of_work(write=False) as session:
            assert session.scalar(select(func.count()).select_from(Ticket)) == threads_count * rounds
