"""How `GET /stats` stays cheap: answers kept per database, visibility and period (core.recent)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from tests.factories import make_admin, make_agent, make_customer, make_ticket

from ticketry.core.db import Database
from ticketry.core.recent import RecentAnswers
from ticketry.migrations import upgrade
from ticketry.reports.service import visibility_key


class TestRecentAnswers:
    def test_a_fresh_answer_is_reused_for_the_same_key(self, db: Database) -> None:
        answers: RecentAnswers[int] = RecentAnswers(max_age=3600)
        computed: list[str] = []

        def compute(name: str) -> int:
            computed.append(name)
            return len(computed)

        with db.unit_of_work(write=False) as session:
            first = answers.get(session, "a", lambda: compute("a"))
            again = answers.get(session, "a", lambda: compute("a again"))
            other = answers.get(session, "b", lambda: compute("b"))

        assert (first, again, other) == (1, 1, 2)
        assert computed == ["a", "b"]

    def test_an_old_answer_is_computed_again(self, db: Database) -> None:
        answers: RecentAnswers[int] = RecentAnswers(max_age=0)
        values = iter([1, 2])
        with db.unit_of_work(write=False) as session:
            assert answers.get(session, "a", lambda: next(values)) == 1
            assert answers.get(session, "a", lambda: next(values)) == 2

    def test_another_database_never_gets_the_answer(self, db: Database, tmp_path: Path) -> None:
        path = f"{tmp_path}/other.db"
        upgrade(f"sqlite:///{path}")
        other = Database.connect(f"sqlite:///{path}", pool_size=1)
        answers: RecentAnswers[str] = RecentAnswers(max_age=3600)
        try:
            with db.unit_of_work(write=False) as session:
                assert answers.get(session, "a", lambda: "first") == "first"
            with other.unit_of_work(write=False) as session:
                assert answers.get(session, "a", lambda: "second") == "second"
        finally:
            other.dispose()


class TestVisibilityKey:
    def test_readers_who_see_the_same_tickets_share_it_and_no_one_else(self, db: Database) -> None:
        admins = [make_admin(db).actor for _ in range(2)]
        tech = [make_agent(db, departments=("technical",)).actor for _ in range(2)]
        customer = make_customer(db).actor

        assert visibility_key(admins[0]) == visibility_key(admins[1])
        keys = {visibility_key(a) for a in (admins[0], *tech, customer)}
        assert len(keys) == 4


class TestStatsAnswer:
    def test_a_new_reader_sees_the_tickets_as_they_are_now(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        make_ticket(db, customer)
        first = make_admin(db)
        assert client.get("/api/v1/stats", headers=first.headers).json()["total"] == 1
        make_ticket(db, customer)
        agent = make_agent(db, departments=("technical",))
        assert client.get("/api/v1/stats", headers=agent.headers).json()["total"] == 2
