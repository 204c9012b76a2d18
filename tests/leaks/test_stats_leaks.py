"""`GET /stats` answers from recent computations: never from one computed for a reader who sees
other tickets, however alike the two readers are."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import assign, make_admin, make_agent, make_customer, make_ticket, watch
from tests.leaks.scene import ok
from ticketry.core.db import Database


def _total(client: TestClient, headers: dict[str, str]) -> int:
    total: int = ok(client.get("/api/v1/stats", headers=headers))["total"]
    return total


class TestStatsPerReader:
    def test_agents_of_the_same_department_each_count_their_own_tickets(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        admin = make_admin(db)
        assignee = make_agent(db, departments=("technical",))
        watcher = make_agent(db, departments=("technical",))
        colleague = make_agent(db, departments=("technical",))
        make_ticket(db, customer, department="technical")
        assigned = make_ticket(db, customer, department="billing").id
        watched = make_ticket(db, customer, department="sales").id
        assign(db, admin, assigned, assignee)
        watch(db, watched, watcher)

        totals = [_total(client, p.headers) for p in (colleague, assignee, watcher, colleague, admin)]

        assert totals == [1, 2, 2, 1, 3]

    def test_the_period_is_part_of_the_answer(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        make_ticket(db, make_customer(db))
        default = ok(client.get("/api/v1/stats", headers=admin.headers))
        long_ago = ok(
            client.get(
                "/api/v1/stats",
                params={"period_from": "2001-01-01T00:00:00Z", "period_to": "2001-02-01T00:00:00Z"},
                headers=admin.headers,
            )
        )
        assert sum(day["created"] for day in default["perDay"]) == 1
        assert long_ago["perDay"] == [] and long_ago["periodTo"].startswith("2001-02-01")
