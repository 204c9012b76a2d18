"""Human ticket numbers `PREFIX-YYYY-NNNN` (docs/product.md §2): unique under concurrent creation, a fresh
sequence each year, a configurable prefix; on PostgreSQL taken without a lock that creates wait on,
and continuing after the numbers issued before the sequences existed (migration 0013)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import UTC, datetime
from functools import partial

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import select, text
from tests.factories import Persona, api_ticket, make_customer
from tests.threads import together

from ticketry.core.clock import travel_to
from ticketry.core.config import Settings, get_settings
from ticketry.core.db import Database
from ticketry.migrations import downgrade, upgrade
from ticketry.tickets import service as ticket_service
from ticketry.tickets.models import Ticket
from ticketry.tickets.numbering import format_number

POSTGRES_URL = os.environ.get("TICKETRY_TEST_POSTGRES_URL")


def create(db: Database, persona: Persona) -> str:
    with db.unit_of_work() as session:
        return ticket_service.create_ticket(session, persona.actor, title="Help", description="Please").number


def sequence(number: str) -> int:
    return int(number.rsplit("-", 1)[1])


@pytest.fixture
def prefix(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("TICKETRY_TICKET_PREFIX", "HELP")
    get_settings.cache_clear()
    yield "HELP"
    get_settings.cache_clear()  # monkeypatch restores the environment right after this


class TestFormat:
    @pytest.mark.parametrize(
        ("value", "expected"), [(1, "TICK-2026-0001"), (42, "TICK-2026-0042"), (12345, "TICK-2026-12345")]
    )
    def test_zero_padded_to_four_digits(self, value: int, expected: str) -> None:
        assert format_number("TICK", 2026, value) == expected


def create_together(
    db: Database, customers: list[Persona], each: int, *, at: datetime | None = None
) -> list[str]:
    """Every customer creates `each` tickets in a thread of their own, all starting at once (at
    the time `at`, if given); the numbers they got. A thread's failure fails the test."""

    def work(persona: Persona) -> list[str]:
        with travel_to(at) if at is not None else nullcontext():
            return [create(db, persona) for _ in range(each)]

    return [number for mine in together([partial(work, c) for c in customers]) for number in mine]


class TestConcurrentNumbering:
    THREADS = 8
    PER_THREAD = 25

    def test_parallel_creation_gives_distinct_gap_free_numbers(self, db: Database) -> None:
        customers = [make_customer(db) for _ in range(self.THREADS)]
        numbers = create_together(db, customers, self.PER_THREAD)
        total = self.THREADS * self.PER_THREAD
        assert len(numbers) == total
        assert len(set(numbers)) == total
        assert sorted(sequence(n) for n in numbers) == list(range(1, total + 1))
        year = datetime.now(UTC).year
        assert {n.rsplit("-", 1)[0] for n in numbers} == {f"TICK-{year}"}
        with db.unit_of_work(write=False) as session:
            stored = list(session.scalars(select(Ticket.number)))
        assert sorted(stored) == sorted(numbers)


class TestYearlySequence:
    def test_numbers_restart_each_year(self, db: Database) -> None:
        customer = make_customer(db)
        with travel_to(datetime(2030, 12, 31, 23, 59, 58, tzinfo=UTC)):
            assert create(db, customer) == "TICK-2030-0001"
            assert create(db, customer) == "TICK-2030-0002"
        with travel_to(datetime(2031, 1, 1, 0, 0, 1, tzinfo=UTC)):
            assert create(db, customer) == "TICK-2031-0001"
            assert create(db, customer) == "TICK-2031-0002"
        with travel_to(datetime(2030, 12, 31, 23, 59, 59, tzinfo=UTC)):
            assert create(db, customer) == "TICK-2030-0003"

    def test_a_rolled_back_ticket_leaves_at_most_a_gap(self, db: Database) -> None:
        customer = make_customer(db)
        first = create(db, customer)
        with pytest.raises(RuntimeError), db.unit_of_work() as session:
            ticket_service.create_ticket(session, customer.actor, title="x", description="y")
            raise RuntimeError("crash before commit")
        second = create(db, customer)
        # PostgreSQL's sequence does not give a number back; SQLite's upsert rolls back with it.
        assert sequence(second) == sequence(first) + (2 if db.dialect == "postgresql" else 1)
        with db.unit_of_work(write=False) as session:
            assert sorted(session.scalars(select(Ticket.number))) == sorted([first, second])

    def test_the_first_tickets_of_a_new_year_racing_get_distinct_numbers_from_0001(
        self, db: Database
    ) -> None:
        """The year's sequence does not exist yet: the racers create it once between them."""
        customers = [make_customer(db) for _ in range(4)]
        numbers = create_together(db, customers, 3, at=datetime(2034, 3, 1, tzinfo=UTC))
        assert sorted(numbers) == [format_number("TICK", 2034, n) for n in range(1, 13)]


@pytest.mark.skipif(not POSTGRES_URL, reason="PostgreSQL only: SQLite has one writer")
class TestNoLockHeldOnPostgres:
    def test_a_create_does_not_wait_for_another_open_create(self, db: Database) -> None:
        """The old per-year row stayed locked until the creating transaction ended: a second
        create waited (here: would hit its lock timeout). Now both go through at once."""
        if db.dialect != "postgresql":
            pytest.skip("PostgreSQL only")
        customer = make_customer(db)
        create(db, customer)  # the year's sequence exists
        with db.unit_of_work() as first:
            held = ticket_service.create_ticket(first, customer.actor, title="Open", description="x").number
            with db.unit_of_work() as second:
                second.execute(text("SET LOCAL lock_timeout = '2s'"))
                other = ticket_service.create_ticket(
                    second, customer.actor, title="Other", description="y"
                ).number
        assert sequence(other) == sequence(held) + 1


def set_last_value(db: Database, year: int, value: int) -> None:
    """What `bench/seed.py` (or the numbering before migration 0013) leaves behind."""
    with db.unit_of_work() as session:
        session.execute(
            text("INSERT INTO ticket_number_sequences (year, last_value) VALUES (:year, :value)"),
            {"year": year, "value": value},
        )


class TestNumbersIssuedBefore:
    def test_numbers_continue_after_the_migration_and_after_a_way_back(self, empty_url: str) -> None:
        upgrade(empty_url, "0012")
        db = Database.connect(empty_url, pool_size=2)
        try:
            set_last_value(db, 2030, 41)
            upgrade(empty_url)
            customer = make_customer(db)
            # a year loaded after migrating (the bench seeds this way)
            set_last_value(db, 2031, 7)
            with travel_to(datetime(2030, 6, 1, tzinfo=UTC)):
                assert create(db, customer) == "TICK-2030-0042"
            with travel_to(datetime(2031, 6, 1, tzinfo=UTC)):
                assert create(db, customer) == "TICK-2031-0008"
            db.dispose()
            downgrade(empty_url, "0012")
            upgrade(empty_url)
            with travel_to(datetime(2030, 6, 1, tzinfo=UTC)):
                assert create(db, customer) == "TICK-2030-0043"
            with travel_to(datetime(2031, 6, 1, tzinfo=UTC)):
                assert create(db, customer) == "TICK-2031-0009"
        finally:
            db.dispose()


class TestPrefix:
    def test_prefix_from_the_environment(self, db: Database, prefix: str) -> None:
        number = create(db, make_customer(db))
        assert number == f"{prefix}-{datetime.now(UTC).year}-0001"

    def test_prefix_through_the_api(self, client: TestClient, db: Database, prefix: str) -> None:
        body = api_ticket(client, make_customer(db))
        assert str(body["number"]).startswith(f"{prefix}-")

    def test_default_prefix(self) -> None:
        assert Settings.model_fields["ticket_prefix"].default == "TICK"

    @pytest.mark.parametrize("bad", ["", "tick", "TICK-1", "TOOLONGPREFIX", "1ABC"])
    def test_bad_prefix_is_refused_at_startup(self, bad: str) -> None:
        with pytest.raises(ValidationError):
            Settings(ticket_prefix=bad)
