"""Reference data, stats, workload, health, and the API's answers to requests it cannot route."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from tests.factories import (
    Persona,
    api_ticket,
    make_admin,
    make_agent,
    make_customer,
    make_message,
    make_ticket,
)

from ticketry.core.clock import travel_to
from ticketry.core.db import Database
from ticketry.tickets import service as ticket_service
from ticketry.tickets.models import TicketStatus


def move(db: Database, admin: Persona, ticket_id: object, *statuses: TicketStatus) -> None:
    for status in statuses:
        with db.unit_of_work() as session:
            ticket_service.change_status(session, admin.actor, int(str(ticket_id)), status=status)


def assign(db: Database, admin: Persona, ticket_id: object, agent: Persona) -> None:
    with db.unit_of_work() as session:
        ticket_service.assign_ticket(session, admin.actor, int(str(ticket_id)), assignee_id=agent.id)


class TestDepartments:
    def test_default_departments_for_anyone_signed_in(self, client: TestClient, db: Database) -> None:
        response = client.get("/api/v1/departments", headers=make_customer(db).headers)
        assert response.status_code == 200
        departments = response.json()["data"]
        assert sorted(d["slug"] for d in departments) == ["billing", "general", "sales", "technical"]
        assert set(departments[0]) == {"id", "slug", "name", "isActive"}

    def test_anonymous_is_401(self, client: TestClient) -> None:
        response = client.get("/api/v1/departments")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"


class TestCategories:
    def test_active_categories_by_name(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        for name in ("Network", "Billing questions", "Access"):
            client.post("/api/v1/categories", json={"name": name}, headers=admin.headers)
        response = client.get("/api/v1/categories", headers=make_customer(db).headers)
        assert [c["name"] for c in response.json()["data"]] == ["Access", "Billing questions", "Network"]


class TestPriorities:
    def test_in_rank_order(self, client: TestClient, db: Database) -> None:
        response = client.get("/api/v1/priorities", headers=make_customer(db).headers)
        assert response.status_code == 200
        assert response.json()["data"] == [
            {"value": "low", "rank": 0},
            {"value": "medium", "rank": 1},
            {"value": "high", "rank": 2},
            {"value": "urgent", "rank": 3},
        ]


class TestStatuses:
    def test_each_status_with_its_allowed_next_states(self, client: TestClient, db: Database) -> None:
        response = client.get("/api/v1/statuses", headers=make_agent(db).headers)
        assert response.status_code == 200
        table = {s["value"]: set(s["allowedNext"]) for s in response.json()["data"]}
        assert table == {
            "open": {"answered", "in_progress", "on_hold", "closed"},
            "answered": {"in_progress", "on_hold", "waiting_for_response", "closed"},
            "waiting_for_response": {"answered", "in_progress", "closed"},
            "on_hold": {"in_progress", "answered", "closed"},
            "in_progress": {"resolved", "on_hold", "closed"},
            "resolved": {"closed", "open"},
            "closed": {"open"},
        }


class TestStats:
    def test_counts_by_status_priority_and_department(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        customer = make_customer(db)
        a = api_ticket(client, customer, department="technical", priority="high")
        b = api_ticket(client, customer, department="billing", priority="high")
        api_ticket(client, customer, department="billing", priority="low")
        deleted = api_ticket(client, customer, department="sales", priority="urgent")
        move(db, admin, a["id"], TicketStatus.CLOSED)
        move(db, admin, b["id"], TicketStatus.ON_HOLD)
        client.delete(f"/api/v1/tickets/{deleted['id']}", headers=admin.headers)
        response = client.get("/api/v1/stats", headers=admin.headers)
        assert response.status_code == 200, response.text
        stats = response.json()
        assert stats["total"] == 3
        assert stats["byStatus"] == {"closed": 1, "on_hold": 1, "open": 1}
        assert stats["byPriority"] == {"high": 2, "low": 1}
        assert stats["byDepartment"] == {"Technical": 1, "Billing": 2}

    def test_first_response_and_resolution_times(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        agent = make_agent(db)
        customer = make_customer(db)
        start = datetime.now(UTC) - timedelta(days=2)
        with travel_to(start):
            ticket_id = make_ticket(db, customer, department="technical").id
        with travel_to(start + timedelta(hours=1)):
            make_message(db, customer, ticket_id, body="Customer messages do not count")
        with travel_to(start + timedelta(hours=2)):
            make_message(db, agent, ticket_id, body="On it")
        with travel_to(start + timedelta(hours=5)):
            move(db, admin, ticket_id, TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED)
        stats = client.get("/api/v1/stats", headers=admin.headers).json()
        assert stats["firstResponse"]["count"] == 1
        assert stats["firstResponse"]["meanSeconds"] == pytest.approx(7200.0, abs=0.01)
        assert stats["firstResponse"]["medianSeconds"] == pytest.approx(7200.0, abs=0.01)
        assert stats["resolution"]["count"] == 1
        assert stats["resolution"]["meanSeconds"] == pytest.approx(5 * 3600.0, abs=0.01)

    def test_per_day_trend(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        customer = make_customer(db)
        api_ticket(client, customer)
        api_ticket(client, customer)
        stats = client.get("/api/v1/stats", headers=admin.headers).json()
        assert sum(day["created"] for day in stats["perDay"]) == 2

    def test_agent_counts_only_what_they_can_see(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db, departments=("technical",))
        customer = make_customer(db)
        api_ticket(client, customer, department="technical")
        api_ticket(client, customer, department="billing")
        stats = client.get("/api/v1/stats", headers=agent.headers).json()
        assert stats["total"] == 1
        assert stats["byDepartment"] == {"Technical": 1}

    def test_customer_is_403(self, client: TestClient, db: Database) -> None:
        response = client.get("/api/v1/stats", headers=make_customer(db).headers)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"


class TestAgents:
    def test_workload_counts_active_assigned_tickets(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        busy = make_agent(db)
        idle = make_agent(db)
        customer = make_customer(db)
        tickets = [api_ticket(client, customer, department="technical")["id"] for _ in range(4)]
        for ticket_id in tickets:
            assign(db, admin, ticket_id, busy)
        move(db, admin, tickets[0], TicketStatus.RESOLVED)
        move(db, admin, tickets[1], TicketStatus.CLOSED)
        response = client.get("/api/v1/agents", headers=busy.headers)
        assert response.status_code == 200
        load = {a["id"]: a for a in response.json()["data"]}
        assert load[busy.id]["openTickets"] == 2
        assert load[idle.id]["openTickets"] == 0
        assert load[admin.id]["role"] == "admin"
        assert customer.id not in load
        assert set(load[busy.id]) == {"id", "name", "email", "role", "openTickets"}

    def test_customer_is_403(self, client: TestClient, db: Database) -> None:
        assert client.get("/api/v1/agents", headers=make_customer(db).headers).status_code == 403


class TestHealth:
    def test_ok_without_credentials(self, client: TestClient, db: Database) -> None:
        response = client.get("/api/v1/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "database": db.dialect}


class TestUnroutable:
    def test_unknown_route_is_404_envelope(self, client: TestClient, db: Database) -> None:
        response = client.get("/api/v1/no-such-thing", headers=make_customer(db).headers)
        assert response.status_code == 404
        assert response.json() == {"error": {"code": "not_found", "message": "Not Found", "details": {}}}

    def test_wrong_method_is_405_envelope(self, client: TestClient, db: Database) -> None:
        response = client.delete("/api/v1/departments", headers=make_customer(db).headers)
        assert response.status_code == 405
        assert response.json()["error"]["code"] == "method_not_allowed"

    @pytest.mark.parametrize(
        "content",
        [b"{bad json", b"", b"[1, 2]", b"null", b'{"title": "x", "description": "y"', b'{"title": 1e999999}'],
        ids=["truncated", "empty", "array", "null", "unclosed", "huge-number"],
    )
    def test_malformed_json_is_422_envelope(self, client: TestClient, db: Database, content: bytes) -> None:
        response = client.post(
            "/api/v1/tickets",
            content=content,
            headers={**make_customer(db).headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert isinstance(error["details"]["errors"], list)

    def test_body_that_is_not_utf8_is_400_envelope(self, client: TestClient, db: Database) -> None:
        response = client.post(
            "/api/v1/tickets",
            content='{"title": "caf\u00e9"}'.encode("latin-1"),
            headers={**make_customer(db).headers, "Content-Type": "application/json"},
        )
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "bad_request"

    def test_malformed_json_on_every_kind_of_body(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        ticket = api_ticket(client, admin, department="technical")
        headers = {**admin.headers, "Content-Type": "application/json"}
        for method, path in (
            ("PATCH", f"/api/v1/tickets/{ticket['id']}"),
            ("PUT", f"/api/v1/tickets/{ticket['id']}/status"),
            ("POST", f"/api/v1/tickets/{ticket['id']}/replies"),
            ("POST", f"/api/v1/tickets/{ticket['id']}/close"),
            ("POST", "/api/v1/tickets/bulk-update"),
            ("POST", "/api/v1/auth/login"),
            ("POST", "/api/v1/users"),
        ):
            response = client.request(method, path, content=b"{oops", headers=headers)
            assert response.status_code == 422, (method, path, response.text)
            assert response.json()["error"]["code"] == "validation_error"
