"""Publishing (issue 13): a transaction's events wait for its commit and go out together, on
PostgreSQL in one statement of `pg_notify`s (a reply's four events cost one round trip); they
arrive in the order published, once each, and not at all when the transaction rolls back."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.productivity.test_watchers import _collect
from tests.web.test_query_counts import counting
from ticketry.core.db import Database
from ticketry.realtime import broker

CHANNEL = "test:publish"


class Refused(Exception):
    pass


def test_a_transaction_s_events_arrive_after_it_commits_in_order_once_each(
    db: Database, database_url: str
) -> None:
    sent: list[str] = []

    def commit() -> None:
        with counting(db) as counter, db.unit_of_work() as session:
            for kind in ("first", "second", "first", "third"):
                broker.publish(session, CHANNEL, kind, detail=f"about {kind}")
            assert session.info[broker._PENDING], "nothing is sent before the commit"
        sent.extend(counter.statements)

    events = _collect(database_url, CHANNEL, commit, settle=0.5)
    assert [(e.kind, e.detail) for e in events] == [
        ("first", "about first"),
        ("second", "about second"),
        ("third", "about third"),
    ]
    notifying = [s for s in sent if "pg_notify" in s]
    assert len(notifying) == (1 if db.dialect == "postgresql" else 0), sent


def test_a_rolled_back_transaction_sends_nothing(db: Database, database_url: str) -> None:
    def fail() -> None:
        with pytest.raises(Refused), db.unit_of_work() as session:
            broker.publish(session, CHANNEL, "never")
            session.execute(text("SELECT 1"))
            raise Refused

    assert _collect(database_url, CHANNEL, fail, settle=0.5) == []


def test_a_rolled_back_savepoint_takes_its_events_along(db: Database, database_url: str) -> None:
    """A bulk edit is a savepoint per ticket: a ticket that fails announces nothing."""

    def bulk() -> None:
        with db.unit_of_work() as session:
            broker.publish(session, CHANNEL, "before")
            with pytest.raises(Refused), session.begin_nested():
                broker.publish(session, CHANNEL, "failed")
                raise Refused
            with session.begin_nested():
                broker.publish(session, CHANNEL, "kept")

    assert [e.kind for e in _collect(database_url, CHANNEL, bulk, settle=0.5)] == ["before", "kept"]


def test_a_released_savepoint_s_events_wait_for_the_outer_commit(db: Database, database_url: str) -> None:
    def undone() -> None:
        with pytest.raises(Refused), db.unit_of_work() as session:
            with session.begin_nested():
                broker.publish(session, CHANNEL, "released, then rolled back")
            raise Refused

    assert _collect(database_url, CHANNEL, undone, settle=0.5) == []
