"""`core.db.time_boxed`: a read that runs past its time is stopped, and the session carries on
as if it had not run (the saved views' sidebar counts rely on it)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from ticketry.core.db import Database, TookTooLong, time_boxed

# Counts to a hundred million: seconds of work on either database.
SLOW = text(
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000) "
    "SELECT count(*) FROM n"
)


def test_a_slow_read_is_stopped_and_the_session_carries_on(db: Database) -> None:
    with db.unit_of_work(write=False) as session:
        with pytest.raises(TookTooLong), time_boxed(session, 50):
            session.execute(SLOW).scalar_one()
        assert session.execute(text("SELECT 41 + 1")).scalar_one() == 42


def test_a_quick_read_answers_and_leaves_no_limit_behind(db: Database) -> None:
    with db.unit_of_work() as session:
        with time_boxed(session, 5_000):
            assert session.execute(text("SELECT 7")).scalar_one() == 7
        if db.dialect == "postgresql":
            assert session.execute(text("SELECT current_setting('statement_timeout')")).scalar_one() == "0"
        else:  # the progress handler is gone: a long read runs to its end
            small = text(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300000) "
                "SELECT count(*) FROM n"
            )
            assert session.execute(small).scalar_one() == 300000


def test_writes_in_the_same_transaction_survive_a_stopped_read(db: Database) -> None:
    with db.unit_of_work() as session:
        session.execute(text("CREATE TEMPORARY TABLE boxed_note (v INTEGER)"))
        session.execute(text("INSERT INTO boxed_note VALUES (1)"))
        with pytest.raises(TookTooLong), time_boxed(session, 50):
            session.execute(SLOW).scalar_one()
        assert session.execute(text("SELECT count(*) FROM boxed_note")).scalar_one() == 1
