"""`/api/v1/tickets`: the ticket contract of docs/product.md §2-§4, on both backends."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import (
    Persona,
    api_ticket,
    make_admin,
    make_agent,
    make_customer,
    make_message,
    make_organization,
    make_ticket,
)

from ticketry.core.clock import travel_to
from ticketry.core.db import Database
from ticketry.history.models import TicketEvent
from ticketry.tickets import service as ticket_service
from ticketry.tickets.models import Priority, Ticket, TicketStatus

NUMBER = re.compile(r"^TICK-(\d{4})-(\d{4,})$")
DAY = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


def open_ticket(client: TestClient, persona: Persona, **fields: object) -> dict[str, Any]:
    """A ticket through the API, in the department the default agent works in."""
    return api_ticket(client, persona, **{"department": "technical", **fields})


def get(client: TestClient, persona: Persona, ticket_id: object) -> dict[str, Any]:
    response = client.get(f"/api/v1/tickets/{ticket_id}", headers=persona.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def listed(client: TestClient, persona: Persona, params: object = None, path: str = "") -> list[int]:
    response = client.get(f"/api/v1/tickets{path}", params=params, headers=persona.headers)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["data"]]


def set_status(db: Database, actor: Persona, ticket_id: int, *statuses: TicketStatus) -> None:
    for status in statuses:
        with db.unit_of_work() as session:
            ticket_service.change_status(session, actor.actor, ticket_id, status=status)


def assign(db: Database, admin: Persona, ticket_id: int, agent: Persona) -> None:
    with db.unit_of_work() as session:
        ticket_service.assign_ticket(session, admin.actor, ticket_id, assignee_id=agent.id)


def events(db: Database, ticket_id: int) -> list[TicketEvent]:
    with db.unit_of_work(write=False) as session:
        return list(
            session.scalars(
                select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
            )
        )


def row(db: Database, ticket_id: int) -> Ticket:
    with db.unit_of_work(write=False) as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


def assert_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    assert set(error) == {"code", "message", "details"}
    assert error["message"]
    return error


class TestCreateTicket:
    def test_customer_opens_a_ticket(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        response = client.post(
            "/api/v1/tickets",
            json={"title": "VPN down", "description": "Since **noon**.", "priority": "high"},
            headers=customer.headers,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert isinstance(body["id"], int)
        match = NUMBER.match(body["number"])
        assert match is not None
        assert int(match.group(1)) == datetime.now(UTC).year
        assert body["status"] == "open"
        assert body["priority"] == "high"
        assert body["source"] == "api"
        assert body["department"]["slug"] == "general"
        assert body["customer"]["id"] == customer.id
        assert body["version"] == 1
        assert "<strong>noon</strong>" in body["descriptionHtml"]
        assert body["editable"] is True
        for staff_field in ("assignee", "tags", "statusReason", "viewCount", "allowedStatuses"):
            assert staff_field not in body

    def test_priority_defaults_to_medium(self, client: TestClient, db: Database) -> None:
        assert api_ticket(client, make_customer(db))["priority"] == "medium"

    @pytest.mark.parametrize("ref", ["billing", "Billing", "2"])
    def test_department_by_slug_name_or_id(self, client: TestClient, db: Database, ref: str) -> None:
        body = api_ticket(client, make_customer(db), department=int(ref) if ref.isdigit() else ref)
        assert body["department"]["slug"] == "billing"

    def test_numbers_follow_each_other(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        first = api_ticket(client, customer)["number"]
        second = api_ticket(client, customer)["number"]
        assert int(str(second).rsplit("-", 1)[1]) == int(str(first).rsplit("-", 1)[1]) + 1

    @pytest.mark.parametrize("key", ["customerId", "customer_id"])
    def test_customer_always_files_for_themself(self, client: TestClient, db: Database, key: str) -> None:
        customer = make_customer(db)
        victim = make_customer(db)
        body = api_ticket(client, customer, **{key: victim.id})
        assert body["customer"]["id"] == customer.id
        assert listed(client, victim) == []

    @pytest.mark.parametrize("key", ["customerId", "customer_id"])
    def test_staff_files_on_behalf_of_a_customer(self, client: TestClient, db: Database, key: str) -> None:
        agent = make_agent(db)
        customer = make_customer(db)
        body = open_ticket(client, agent, **{key: customer.id})
        assert body["customer"]["id"] == customer.id
        assert listed(client, customer, path="/my-tickets") == [body["id"]]
        assert row(db, body["id"]).created_by_id == agent.id

    def test_staff_may_tag_on_creation(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        body = open_ticket(client, agent, tags=["VPN", "outage"])
        assert [t["name"] for t in body["tags"]] == ["outage", "vpn"]

    def test_category_is_kept(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        category = client.post("/api/v1/categories", json={"name": "Hardware"}, headers=admin.headers).json()
        body = api_ticket(client, make_customer(db), category=category["id"])
        assert body["category"] == {"id": category["id"], "name": "Hardware"}

    def test_unknown_category_is_refused(self, client: TestClient, db: Database) -> None:
        response = client.post(
            "/api/v1/tickets",
            json={"title": "x", "description": "y", "category": 4242},
            headers=make_customer(db).headers,
        )
        assert_error(response, 404, "category_not_found")

    def test_unknown_department_is_refused_and_nothing_is_written(
        self, client: TestClient, db: Database
    ) -> None:
        response = client.post(
            "/api/v1/tickets",
            json={"title": "x", "description": "y", "department": "nowhere"},
            headers=make_customer(db).headers,
        )
        assert response.status_code in (404, 422)
        assert response.json()["error"]["code"] == "department_not_found"
        with db.unit_of_work(write=False) as session:
            assert session.scalars(select(Ticket)).all() == []

    @pytest.mark.parametrize(
        "body",
        [
            {"description": "no title"},
            {"title": "   ", "description": "blank title"},
            {"title": "x" * 201, "description": "too long"},
            {"title": "bad priority", "description": "y", "priority": "sometime"},
            {"title": "typo", "description": "y", "priorty": "high"},
        ],
        ids=["missing-title", "blank-title", "long-title", "bad-priority", "unknown-field"],
    )
    def test_bad_input_is_422(self, client: TestClient, db: Database, body: dict[str, object]) -> None:
        response = client.post("/api/v1/tickets", json=body, headers=make_customer(db).headers)
        assert_error(response, 422, "validation_error")

    def test_anonymous_is_401(self, client: TestClient) -> None:
        response = client.post("/api/v1/tickets", json={"title": "x", "description": "y"})
        assert_error(response, 401, "not_authenticated")


class TestListTickets:
    def test_envelope_and_pagination(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        ids = [api_ticket(client, customer)["id"] for _ in range(5)]
        response = client.get("/api/v1/tickets", params={"page_size": 2, "page": 2}, headers=customer.headers)
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"data", "pagination"}
        assert body["pagination"] == {
            "total": 5,
            "page": 2,
            "pageSize": 2,
            "totalPages": 3,
            "totalCapped": False,
        }
        assert [t["id"] for t in body["data"]] == [ids[2], ids[1]]  # newest first by default

    def test_page_size_over_100_is_422(self, client: TestClient, db: Database) -> None:
        response = client.get("/api/v1/tickets", params={"page_size": 101}, headers=make_agent(db).headers)
        error = assert_error(response, 422, "validation_error")
        assert error["details"]["field"] == "page_size"
        assert error["message"] == "'page_size' is a whole number from 1 to 100."

    @pytest.mark.parametrize("params", [{"page": 0}, {"page_size": 0}, {"page": "x"}])
    def test_bad_paging_is_422(self, client: TestClient, db: Database, params: dict[str, object]) -> None:
        response = client.get("/api/v1/tickets", params=params, headers=make_agent(db).headers)
        assert_error(response, 422, "validation_error")

    def test_page_beyond_the_end_is_empty(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        api_ticket(client, customer)
        response = client.get("/api/v1/tickets", params={"page": 5}, headers=customer.headers)
        assert response.json()["data"] == []
        assert response.json()["pagination"]["total"] == 1

    def test_customer_sees_only_own_tickets_without_staff_fields(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        mine = api_ticket(client, customer)
        api_ticket(client, make_customer(db))
        response = client.get("/api/v1/tickets", headers=customer.headers)
        data = response.json()["data"]
        assert [t["id"] for t in data] == [mine["id"]]
        assert "assignee" not in data[0]
        assert "customer" not in data[0]
        assert "tags" not in data[0]

    def test_agent_list_items_carry_staff_fields(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        customer = make_customer(db)
        open_ticket(client, customer)
        item = client.get("/api/v1/tickets", headers=agent.headers).json()["data"][0]
        assert item["customer"] == {
            "id": customer.id,
            "name": item["customer"]["name"],
            "email": customer.email,
        }
        assert item["assignee"] is None
        assert item["tags"] == []

    @pytest.mark.parametrize(
        "params",
        [[("status", "open"), ("status", "closed")], [("status", "open,closed")]],
        ids=["repeated", "comma"],
    )
    def test_filter_by_several_statuses(self, client: TestClient, db: Database, params: object) -> None:
        admin = make_admin(db)
        customer = make_customer(db)
        opened, closed, held = (api_ticket(client, customer)["id"] for _ in range(3))
        set_status(db, admin, closed, TicketStatus.CLOSED)
        set_status(db, admin, held, TicketStatus.ON_HOLD)
        assert sorted(listed(client, admin, params)) == sorted([opened, closed])
        assert listed(client, admin, {"status": "on_hold"}) == [held]

    def test_unknown_status_is_422_naming_the_allowed_ones(self, client: TestClient, db: Database) -> None:
        response = client.get("/api/v1/tickets", params={"status": "pending"}, headers=make_admin(db).headers)
        error = assert_error(response, 422, "validation_error")
        assert "waiting_for_response" in error["details"]["allowed"]

    def test_filter_by_priority(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        customer = make_customer(db)
        low = api_ticket(client, customer, priority="low")["id"]
        urgent = api_ticket(client, customer, priority="urgent")["id"]
        api_ticket(client, customer, priority="medium")
        assert listed(client, admin, {"priority": "urgent"}) == [urgent]
        assert sorted(listed(client, admin, {"priority": "low,urgent"})) == sorted([low, urgent])

    def test_filter_by_department_slug_or_id(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        customer = make_customer(db)
        billing = api_ticket(client, customer, department="billing")
        api_ticket(client, customer, department="sales")
        assert listed(client, admin, {"department": "billing"}) == [billing["id"]]
        assert listed(client, admin, {"department": billing["department"]["id"]}) == [billing["id"]]

    def test_filter_by_category(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        customer = make_customer(db)
        category = client.post("/api/v1/categories", json={"name": "Network"}, headers=admin.headers).json()
        inside = api_ticket(client, customer, category=category["id"])["id"]
        api_ticket(client, customer)
        assert listed(client, admin, {"category": category["id"]}) == [inside]

    def test_filter_by_assignee_id_me_and_none(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        agent = make_agent(db)
        other = make_agent(db)
        customer = make_customer(db)
        mine, theirs, nobody = (open_ticket(client, customer)["id"] for _ in range(3))
        assign(db, admin, mine, agent)
        assign(db, admin, theirs, other)
        assert listed(client, agent, {"assigned_to": "me"}) == [mine]
        assert listed(client, admin, {"assigned_to": str(other.id)}) == [theirs]
        assert listed(client, agent, {"assigned_to": "none"}) == [nobody]
        assert listed(client, agent, {"assigned_to": "unassigned"}) == [nobody]
        response = client.get("/api/v1/tickets", params={"assigned_to": "bob"}, headers=agent.headers)
        assert_error(response, 422, "validation_error")

    def test_filter_by_customer(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        alice = make_customer(db)
        bob = make_customer(db)
        hers = api_ticket(client, alice)["id"]
        api_ticket(client, bob)
        assert listed(client, admin, {"customer_id": alice.id}) == [hers]

    def test_filter_by_organization(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        org = make_organization(db, shared=False)
        member = make_customer(db, organization_id=org)
        outsider = make_customer(db)
        inside = api_ticket(client, member)["id"]
        api_ticket(client, outsider)
        assert listed(client, admin, {"organization_id": org}) == [inside]

    def test_filter_by_source(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        customer = make_customer(db)
        web = make_ticket(db, customer).id
        api = api_ticket(client, customer)["id"]
        assert listed(client, admin, {"source": "web"}) == [web]
        assert listed(client, admin, {"source": "api"}) == [api]
        response = client.get("/api/v1/tickets", params={"source": "fax"}, headers=admin.headers)
        assert_error(response, 422, "validation_error")

    def test_filter_by_tag(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        tagged = open_ticket(client, admin, tags=["vpn"])["id"]
        open_ticket(client, admin, tags=["printer"])
        assert listed(client, admin, {"tag": "VPN"}) == [tagged]

    def test_filter_by_created_range(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        customer = make_customer(db)
        ids = []
        for days in range(3):
            with travel_to(DAY + timedelta(days=days)):
                ids.append(make_ticket(db, customer).id)
        params = {
            "created_from": (DAY + timedelta(hours=12)).isoformat(),
            "created_to": (DAY + timedelta(days=1, hours=12)).isoformat(),
        }
        assert listed(client, admin, params) == [ids[1]]
        assert (
            sorted(listed(client, admin, {"created_from": (DAY + timedelta(days=1)).isoformat()})) == ids[1:]
        )
        assert listed(client, admin, {"created_to": DAY.isoformat()}) == [ids[0]]

    def test_filter_by_updated_range(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        customer = make_customer(db)
        with travel_to(DAY):
            stale = make_ticket(db, customer).id
            touched = make_ticket(db, customer).id
        with travel_to(DAY + timedelta(days=3)):
            set_status(db, admin, touched, TicketStatus.ON_HOLD)
        since = (DAY + timedelta(days=1)).isoformat()
        assert listed(client, admin, {"updated_from": since}) == [touched]
        assert listed(client, admin, {"updated_to": since}) == [stale]

    def test_filter_by_resolved_range(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        customer = make_customer(db)
        with travel_to(DAY):
            early, late, never = (make_ticket(db, customer).id for _ in range(3))
        with travel_to(DAY + timedelta(days=1)):
            set_status(db, admin, early, TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED)
        with travel_to(DAY + timedelta(days=5)):
            set_status(db, admin, late, TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED)
        params = {
            "resolved_from": (DAY + timedelta(days=4)).isoformat(),
            "resolved_to": (DAY + timedelta(days=6)).isoformat(),
        }
        assert listed(client, admin, params) == [late]
        assert listed(client, admin, {"resolved_to": (DAY + timedelta(days=2)).isoformat()}) == [early]
        assert never not in listed(client, admin, {"resolved_from": DAY.isoformat()})

    def test_bad_date_is_422(self, client: TestClient, db: Database) -> None:
        response = client.get(
            "/api/v1/tickets", params={"created_from": "yesterday"}, headers=make_admin(db).headers
        )
        assert_error(response, 422, "validation_error")

    def test_full_text_over_title_description_messages_and_number(
        self, client: TestClient, db: Database
    ) -> None:
        admin = make_admin(db)
        customer = make_customer(db)
        by_title = api_ticket(client, customer, title="Printer jammed", description="Paper stuck")
        by_body = api_ticket(client, customer, title="Question", description="The kangaroo escaped")
        by_message = api_ticket(client, customer, title="Other", description="Nothing here")
        make_message(db, customer, by_message["id"], body="Also the wombat is missing")
        assert listed(client, admin, {"q": "printer"}) == [by_title["id"]]
        assert listed(client, admin, {"q": "kangaroo"}) == [by_body["id"]]
        assert listed(client, admin, {"q": "wombat"}) == [by_message["id"]]
        assert by_title["id"] in listed(client, admin, {"q": by_title["number"]})
        assert listed(client, admin, {"q": "zebra"}) == []

    def test_full_text_with_operators_is_not_an_error(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        api_ticket(client, customer, title="Printer jammed")
        for q in ['"printer', "printer AND OR NOT", "(*)", "-", "':&|!"]:
            response = client.get("/api/v1/tickets", params={"q": q}, headers=customer.headers)
            assert response.status_code == 200, (q, response.text)

    def test_filters_combine(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        customer = make_customer(db)
        hit = api_ticket(client, customer, priority="high", department="billing", title="Invoice wrong")
        api_ticket(client, customer, priority="low", department="billing", title="Invoice wrong")
        api_ticket(client, customer, priority="high", department="sales", title="Invoice wrong")
        params = {"priority": "high", "department": "billing", "q": "invoice", "status": "open"}
        assert listed(client, admin, params) == [hit["id"]]


class TestSortTickets:
    """Four tickets whose orders differ for every sort field."""

    @pytest.fixture
    def tickets(self, db: Database) -> tuple[Persona, dict[str, int]]:
        admin = make_admin(db)
        customer = make_customer(db)
        made: dict[str, int] = {}
        for name, hours, priority in (
            ("t1", 0, Priority.HIGH),
            ("t2", 24, Priority.LOW),
            ("t3", 48, Priority.URGENT),
            ("t4", 60, Priority.MEDIUM),
        ):
            with travel_to(DAY + timedelta(hours=hours)):
                made[name] = make_ticket(db, customer, priority=priority).id
        with travel_to(DAY + timedelta(days=4)):
            set_status(db, admin, made["t3"], TicketStatus.IN_PROGRESS)
        with travel_to(DAY + timedelta(days=5)):
            set_status(db, admin, made["t1"], TicketStatus.ON_HOLD)
        with travel_to(DAY + timedelta(days=6)):
            set_status(db, admin, made["t4"], TicketStatus.CLOSED)
        return admin, made

    ASCENDING = {
        "created_at": ["t1", "t2", "t3", "t4"],
        "updated_at": ["t2", "t3", "t1", "t4"],
        "priority": ["t2", "t4", "t1", "t3"],  # low, medium, high, urgent
        "status": ["t2", "t1", "t3", "t4"],  # open, on_hold, in_progress, closed: lifecycle order
        "number": ["t1", "t2", "t3", "t4"],
    }

    @pytest.mark.parametrize("order", ["asc", "desc"])
    @pytest.mark.parametrize("field", list(ASCENDING))
    def test_sort(
        self, client: TestClient, tickets: tuple[Persona, dict[str, int]], field: str, order: str
    ) -> None:
        admin, made = tickets
        expected = [made[name] for name in self.ASCENDING[field]]
        if order == "desc":
            expected.reverse()
        assert listed(client, admin, {"sort": field, "order": order}) == expected

    def test_unknown_sort_is_422(self, client: TestClient, tickets: tuple[Persona, dict[str, int]]) -> None:
        admin, _ = tickets
        for params in ({"sort": "title"}, {"order": "sideways"}):
            response = client.get("/api/v1/tickets", params=params, headers=admin.headers)
            assert_error(response, 422, "validation_error")


class TestGetTicket:
    def test_staff_view_has_staff_fields_and_allowed_statuses(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        body = get(client, agent, ticket["id"])
        assert body["allowedStatuses"] == ["answered", "in_progress", "on_hold", "closed"]
        assert body["assignee"] is None
        assert body["statusReason"] is None
        assert "viewCount" in body
        assert body["customer"]["email"]

    def test_someone_elses_ticket_is_404(self, client: TestClient, db: Database) -> None:
        ticket = api_ticket(client, make_customer(db))
        response = client.get(f"/api/v1/tickets/{ticket['id']}", headers=make_customer(db).headers)
        error = assert_error(response, 404, "ticket_not_found")
        missing = client.get("/api/v1/tickets/999999", headers=make_customer(db).headers)
        assert missing.json()["error"]["message"].replace("999999", "N") == error["message"].replace(
            str(ticket["id"]), "N"
        )

    def test_agent_outside_the_department_gets_404(self, client: TestClient, db: Database) -> None:
        ticket = api_ticket(client, make_customer(db), department="billing")
        response = client.get(f"/api/v1/tickets/{ticket['id']}", headers=make_agent(db).headers)
        assert_error(response, 404, "ticket_not_found")

    def test_non_numeric_id_is_422(self, client: TestClient, db: Database) -> None:
        response = client.get("/api/v1/tickets/abc", headers=make_agent(db).headers)
        assert_error(response, 422, "validation_error")


class TestUpdateTicket:
    @pytest.mark.parametrize("method", ["PUT", "PATCH"])
    def test_staff_changes_fields(self, client: TestClient, db: Database, method: str) -> None:
        agent = make_agent(db, departments=("technical", "billing"))
        ticket = open_ticket(client, make_customer(db))
        response = client.request(
            method,
            f"/api/v1/tickets/{ticket['id']}",
            json={"title": "New title", "priority": "urgent", "department": "billing", "tags": ["a"]},
            headers=agent.headers,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["title"] == "New title"
        assert body["priority"] == "urgent"
        assert body["department"]["slug"] == "billing"
        assert [t["name"] for t in body["tags"]] == ["a"]
        assert body["description"] == ticket["description"]  # left out, left alone
        assert body["version"] == 2
        fields = {e.field for e in events(db, ticket["id"])}
        assert {"title", "priority", "department", "tags"} <= fields

    def test_snake_and_camel_case_are_both_accepted(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        category = client.post("/api/v1/categories", json={"name": "Net"}, headers=admin.headers).json()
        ticket = open_ticket(client, make_customer(db))
        response = client.patch(
            f"/api/v1/tickets/{ticket['id']}", json={"category": category["id"]}, headers=admin.headers
        )
        assert response.json()["category"]["id"] == category["id"]
        status = client.put(
            f"/api/v1/tickets/{ticket['id']}/status",
            json={"status": "on_hold", "reason": "x", "version": response.json()["version"]},
            headers=admin.headers,
        )
        assert status.status_code == 200, status.text

    def test_stale_version_is_409_with_current_state(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        first = client.patch(
            f"/api/v1/tickets/{ticket['id']}", json={"title": "Mine", "version": 1}, headers=agent.headers
        )
        assert first.status_code == 200
        second = client.patch(
            f"/api/v1/tickets/{ticket['id']}", json={"title": "Theirs", "version": 1}, headers=agent.headers
        )
        error = assert_error(second, 409, "stale_ticket")
        assert error["details"]["currentVersion"] == 2
        assert error["details"]["current"]["title"] == "Mine"
        assert error["details"]["current"]["status"] == "open"
        assert get(client, agent, ticket["id"])["title"] == "Mine"

    def test_stale_if_match_is_409(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        client.patch(f"/api/v1/tickets/{ticket['id']}", json={"priority": "low"}, headers=agent.headers)
        stale = client.put(
            f"/api/v1/tickets/{ticket['id']}",
            json={"priority": "high"},
            headers={**agent.headers, "If-Match": '"1"'},
        )
        assert_error(stale, 409, "stale_ticket")
        fresh = client.put(
            f"/api/v1/tickets/{ticket['id']}",
            json={"priority": "high"},
            headers={**agent.headers, "If-Match": 'W/"2"'},
        )
        assert fresh.status_code == 200
        assert fresh.json()["version"] == 3

    def test_stale_status_change_is_409(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        client.patch(f"/api/v1/tickets/{ticket['id']}", json={"priority": "low"}, headers=agent.headers)
        response = client.put(
            f"/api/v1/tickets/{ticket['id']}/status",
            json={"status": "on_hold"},
            headers={**agent.headers, "If-Match": "1"},
        )
        assert_error(response, 409, "stale_ticket")
        assert row(db, ticket["id"]).status is TicketStatus.OPEN

    def test_garbage_if_match_is_422(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        response = client.patch(
            f"/api/v1/tickets/{ticket['id']}",
            json={"priority": "low"},
            headers={**agent.headers, "If-Match": "abc"},
        )
        assert_error(response, 422, "validation_error")

    def test_customer_edits_own_open_unanswered_ticket(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        ticket = api_ticket(client, customer)
        response = client.patch(
            f"/api/v1/tickets/{ticket['id']}", json={"title": "Better title"}, headers=customer.headers
        )
        assert response.status_code == 200
        assert response.json()["title"] == "Better title"

    def test_customer_cannot_edit_after_a_staff_reply(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        agent = make_agent(db)
        ticket = open_ticket(client, customer)
        make_message(db, agent, ticket["id"], body="On it")
        response = client.patch(
            f"/api/v1/tickets/{ticket['id']}", json={"title": "Changed"}, headers=customer.headers
        )
        assert_error(response, 403, "edit_not_allowed")
        assert get(client, customer, ticket["id"])["editable"] is False

    def test_customer_cannot_change_staff_fields(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        ticket = api_ticket(client, customer)
        response = client.patch(
            f"/api/v1/tickets/{ticket['id']}", json={"priority": "urgent"}, headers=customer.headers
        )
        error = assert_error(response, 403, "edit_not_allowed")
        assert error["details"]["fields"] == ["priority"]
        assert row(db, ticket["id"]).priority is Priority.MEDIUM

    def test_unknown_field_is_422(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        response = client.patch(
            f"/api/v1/tickets/{ticket['id']}", json={"status": "closed"}, headers=agent.headers
        )
        assert_error(response, 422, "validation_error")
        assert row(db, ticket["id"]).status is TicketStatus.OPEN


class TestDeleteAndRestore:
    def test_admin_deletes_and_the_ticket_disappears(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        customer = make_customer(db)
        ticket = api_ticket(client, customer)
        response = client.delete(f"/api/v1/tickets/{ticket['id']}", headers=admin.headers)
        assert response.status_code == 204
        assert client.get(f"/api/v1/tickets/{ticket['id']}", headers=customer.headers).status_code == 404
        assert listed(client, customer) == []
        assert listed(client, admin) == []
        assert listed(client, admin, {"deleted": "true"}) == [ticket["id"]]
        seen = get(client, admin, ticket["id"])
        assert seen["deletedAt"] is not None
        assert seen["deletedById"] == admin.id

    def test_agent_cannot_delete(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        response = client.delete(f"/api/v1/tickets/{ticket['id']}", headers=agent.headers)
        assert_error(response, 403, "forbidden")
        assert row(db, ticket["id"]).deleted_at is None

    def test_deleting_twice_is_409(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        ticket = api_ticket(client, make_customer(db))
        client.delete(f"/api/v1/tickets/{ticket['id']}", headers=admin.headers)
        again = client.delete(f"/api/v1/tickets/{ticket['id']}", headers=admin.headers)
        assert_error(again, 409, "ticket_deleted")

    def test_restore_brings_it_back(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        customer = make_customer(db)
        ticket = api_ticket(client, customer)
        client.delete(f"/api/v1/tickets/{ticket['id']}", headers=admin.headers)
        response = client.post(f"/api/v1/tickets/{ticket['id']}/restore", headers=admin.headers)
        assert response.status_code == 200
        assert response.json()["deletedAt"] is None
        assert listed(client, customer) == [ticket["id"]]
        assert [e.field for e in events(db, ticket["id"])][-2:] == ["deleted", "deleted"]

    def test_restoring_a_live_ticket_is_409(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        ticket = api_ticket(client, make_customer(db))
        response = client.post(f"/api/v1/tickets/{ticket['id']}/restore", headers=admin.headers)
        assert_error(response, 409, "ticket_not_deleted")

    def test_agent_cannot_restore(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        ticket = open_ticket(client, make_customer(db))
        client.delete(f"/api/v1/tickets/{ticket['id']}", headers=admin.headers)
        response = client.post(f"/api/v1/tickets/{ticket['id']}/restore", headers=make_agent(db).headers)
        # A deleted ticket does not exist for someone who may not restore it (docs/product.md §1: 404).
        assert_error(response, 404, "ticket_not_found")
        assert row(db, ticket["id"]).deleted_at is not None

    def test_agent_restoring_a_live_ticket_is_403(self, client: TestClient, db: Database) -> None:
        ticket = open_ticket(client, make_customer(db))
        response = client.post(f"/api/v1/tickets/{ticket['id']}/restore", headers=make_agent(db).headers)
        assert_error(response, 403, "forbidden")

    def test_deleted_ticket_refuses_changes_until_restored(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        ticket = api_ticket(client, make_customer(db))
        client.delete(f"/api/v1/tickets/{ticket['id']}", headers=admin.headers)
        version = row(db, ticket["id"]).version
        for method, path, body in (
            ("PUT", "/status", {"status": "closed"}),
            ("PATCH", "", {"priority": "high"}),
            ("POST", "/assign", {"assignedTo": admin.id}),
            ("POST", "/replies", {"message": "hello?"}),
        ):
            response = client.request(
                method, f"/api/v1/tickets/{ticket['id']}{path}", json=body, headers=admin.headers
            )
            assert_error(response, 409, "ticket_deleted")
        assert row(db, ticket["id"]).version == version

    def test_deleted_ticket_is_404_to_agents(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        client.delete(f"/api/v1/tickets/{ticket['id']}", headers=admin.headers)
        response = client.put(
            f"/api/v1/tickets/{ticket['id']}/status", json={"status": "closed"}, headers=agent.headers
        )
        assert_error(response, 404, "ticket_not_found")
        assert client.get(f"/api/v1/tickets/{ticket['id']}", headers=agent.headers).status_code == 404


class TestChangeStatus:
    def test_allowed_change_with_reason(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        response = client.put(
            f"/api/v1/tickets/{ticket['id']}/status",
            json={"status": "on_hold", "reason": "Waiting for parts"},
            headers=agent.headers,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "on_hold"
        assert body["statusReason"] == "Waiting for parts"
        assert body["allowedStatuses"] == ["in_progress", "answered", "closed"]
        last = events(db, ticket["id"])[-1]
        assert (last.field, last.old_value, last.new_value, last.reason, last.automatic) == (
            "status",
            "open",
            "on_hold",
            "Waiting for parts",
            False,
        )

    def test_invalid_transition_is_409_with_allowed_list(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        response = client.put(
            f"/api/v1/tickets/{ticket['id']}/status", json={"status": "resolved"}, headers=agent.headers
        )
        error = assert_error(response, 409, "invalid_transition")
        assert error["details"]["allowed"] == ["answered", "in_progress", "on_hold", "closed"]
        assert "answered" in error["message"]
        assert row(db, ticket["id"]).status is TicketStatus.OPEN

    def test_unknown_status_is_422(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        response = client.put(
            f"/api/v1/tickets/{ticket['id']}/status", json={"status": "done"}, headers=agent.headers
        )
        assert_error(response, 422, "validation_error")

    def test_resolving_sets_resolved_at(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        for status in ("in_progress", "resolved"):
            response = client.put(
                f"/api/v1/tickets/{ticket['id']}/status", json={"status": status}, headers=agent.headers
            )
        assert response.json()["resolvedAt"] is not None

    def test_customer_cannot_set_work_states(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        ticket = api_ticket(client, customer)
        response = client.put(
            f"/api/v1/tickets/{ticket['id']}/status", json={"status": "in_progress"}, headers=customer.headers
        )
        assert_error(response, 403, "forbidden")


class TestAssign:
    def test_admin_assigns_an_open_ticket_which_moves_to_in_progress(
        self, client: TestClient, db: Database
    ) -> None:
        admin = make_admin(db)
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        response = client.post(
            f"/api/v1/tickets/{ticket['id']}/assign", json={"assignedTo": agent.id}, headers=admin.headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["assignee"]["id"] == agent.id
        assert body["status"] == "in_progress"
        status_event = [e for e in events(db, ticket["id"]) if e.field == "status"][-1]
        assert status_event.automatic is True
        assert (status_event.old_value, status_event.new_value) == ("open", "in_progress")

    def test_snake_case_body_is_accepted(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        response = client.post(
            f"/api/v1/tickets/{ticket['id']}/assign", json={"assigned_to": agent.id}, headers=admin.headers
        )
        assert response.json()["assignee"]["id"] == agent.id

    def test_assigning_an_answered_ticket_keeps_its_status(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        make_message(db, agent, ticket["id"], body="Looking")
        response = client.post(
            f"/api/v1/tickets/{ticket['id']}/assign", json={"assignedTo": agent.id}, headers=admin.headers
        )
        assert response.json()["status"] == "answered"

    def test_agent_takes_an_unassigned_ticket(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        response = client.post(
            f"/api/v1/tickets/{ticket['id']}/assign", json={"assignedTo": agent.id}, headers=agent.headers
        )
        assert response.status_code == 200
        assert response.json()["assignee"]["id"] == agent.id

    def test_agent_cannot_assign_someone_else(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        other = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        response = client.post(
            f"/api/v1/tickets/{ticket['id']}/assign", json={"assignedTo": other.id}, headers=agent.headers
        )
        assert_error(response, 403, "forbidden")
        assert row(db, ticket["id"]).assignee_id is None

    def test_assigning_a_customer_is_refused(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        customer = make_customer(db)
        ticket = open_ticket(client, customer)
        response = client.post(
            f"/api/v1/tickets/{ticket['id']}/assign", json={"assignedTo": customer.id}, headers=admin.headers
        )
        assert_error(response, 422, "not_an_agent")

    def test_assigning_an_unknown_user_is_404(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        ticket = open_ticket(client, make_customer(db))
        response = client.post(
            f"/api/v1/tickets/{ticket['id']}/assign", json={"assignedTo": 999999}, headers=admin.headers
        )
        assert_error(response, 404, "user_not_found")

    def test_customer_cannot_assign(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        agent = make_agent(db)
        ticket = open_ticket(client, customer)
        response = client.post(
            f"/api/v1/tickets/{ticket['id']}/assign", json={"assignedTo": agent.id}, headers=customer.headers
        )
        assert_error(response, 403, "forbidden")


class TestTransfer:
    def test_assignee_hands_over_with_a_note(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        agent = make_agent(db)
        other = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        assign(db, admin, ticket["id"], agent)
        response = client.post(
            f"/api/v1/tickets/{ticket['id']}/transfer",
            json={"toAgentId": other.id, "note": "Billing question, yours"},
            headers=agent.headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["assignee"]["id"] == other.id
        last = events(db, ticket["id"])[-1]
        assert last.field == "assignee"
        assert last.reason == "Billing question, yours"

    def test_only_the_assignee_may_transfer(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        agent = make_agent(db)
        bystander = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        assign(db, admin, ticket["id"], agent)
        response = client.post(
            f"/api/v1/tickets/{ticket['id']}/transfer",
            json={"to_agent_id": bystander.id},
            headers=bystander.headers,
        )
        assert_error(response, 403, "forbidden")
        assert row(db, ticket["id"]).assignee_id == agent.id

    def test_transfer_to_the_current_assignee_is_refused(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        assign(db, admin, ticket["id"], agent)
        response = client.post(
            f"/api/v1/tickets/{ticket['id']}/transfer", json={"toAgentId": agent.id}, headers=agent.headers
        )
        assert_error(response, 422, "invalid_field")


class TestUnassign:
    def test_assignee_unassigns_and_the_ticket_goes_back_to_open(
        self, client: TestClient, db: Database
    ) -> None:
        admin = make_admin(db)
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        assign(db, admin, ticket["id"], agent)
        response = client.post(f"/api/v1/tickets/{ticket['id']}/unassign", headers=agent.headers)
        assert response.status_code == 200
        assert response.json()["assignee"] is None
        assert response.json()["status"] == "open"
        last = events(db, ticket["id"])[-1]
        assert (last.field, last.new_value, last.automatic) == ("status", "open", True)

    def test_other_agent_cannot_unassign(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        assign(db, admin, ticket["id"], agent)
        response = client.post(f"/api/v1/tickets/{ticket['id']}/unassign", headers=make_agent(db).headers)
        assert_error(response, 403, "forbidden")

    def test_admin_unassigns_anyone(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        assign(db, admin, ticket["id"], agent)
        response = client.post(f"/api/v1/tickets/{ticket['id']}/unassign", headers=admin.headers)
        assert response.json()["assignee"] is None


class TestCloseAndReopen:
    def test_customer_closes_and_reopens_own_ticket(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        ticket = api_ticket(client, customer)
        closed = client.post(
            f"/api/v1/tickets/{ticket['id']}/close", json={"reason": "Fixed itself"}, headers=customer.headers
        )
        assert closed.status_code == 200, closed.text
        assert closed.json()["status"] == "closed"
        assert closed.json()["closedAt"] is not None
        reopened = client.post(f"/api/v1/tickets/{ticket['id']}/reopen", headers=customer.headers)
        assert reopened.status_code == 200, reopened.text
        assert reopened.json()["status"] == "open"
        assert reopened.json()["closedAt"] is None
        assert reopened.json()["resolvedAt"] is None

    def test_close_without_body(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        response = client.post(f"/api/v1/tickets/{ticket['id']}/close", headers=agent.headers)
        assert response.status_code == 200
        assert response.json()["status"] == "closed"

    def test_close_reason_is_kept_in_history(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        client.post(
            f"/api/v1/tickets/{ticket['id']}/close", json={"reason": "Duplicate"}, headers=agent.headers
        )
        last = events(db, ticket["id"])[-1]
        assert (last.new_value, last.reason) == ("closed", "Duplicate")

    def test_reopening_an_open_ticket_is_409(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        response = client.post(f"/api/v1/tickets/{ticket['id']}/reopen", headers=agent.headers)
        assert_error(response, 409, "invalid_transition")

    def test_closing_a_closed_ticket_is_409(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        client.post(f"/api/v1/tickets/{ticket['id']}/close", headers=agent.headers)
        response = client.post(f"/api/v1/tickets/{ticket['id']}/close", headers=agent.headers)
        error = assert_error(response, 409, "invalid_transition")
        assert error["details"]["allowed"] == ["open"]

    def test_customer_cannot_close_someone_elses_ticket(self, client: TestClient, db: Database) -> None:
        ticket = api_ticket(client, make_customer(db))
        response = client.post(f"/api/v1/tickets/{ticket['id']}/close", headers=make_customer(db).headers)
        assert_error(response, 404, "ticket_not_found")


class TestHistory:
    def test_staff_see_reasons_automatic_flags_and_internal_events(
        self, client: TestClient, db: Database
    ) -> None:
        admin = make_admin(db)
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))
        client.post(
            f"/api/v1/tickets/{ticket['id']}/assign", json={"assignedTo": agent.id}, headers=admin.headers
        )
        client.put(
            f"/api/v1/tickets/{ticket['id']}/status",
            json={"status": "on_hold", "reason": "Waiting for vendor"},
            headers=agent.headers,
        )
        response = client.get(f"/api/v1/tickets/{ticket['id']}/history", headers=agent.headers)
        assert response.status_code == 200
        timeline = [
            (e["field"], e["oldValue"], e["newValue"], e["automatic"], e["reason"], e["isInternal"])
            for e in response.json()["data"]
        ]
        assert timeline == [
            ("ticket", None, "created", False, None, False),
            ("assignee", None, agent.actor.name, False, None, True),
            ("status", "open", "in_progress", True, None, False),
            ("status", "in_progress", "on_hold", False, "Waiting for vendor", False),
        ]
        assert response.json()["data"][3]["actor"]["id"] == agent.id

    def test_customer_sees_public_events_without_reasons(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        agent = make_agent(db)
        customer = make_customer(db)
        ticket = open_ticket(client, customer)
        assign(db, admin, ticket["id"], agent)
        response = client.get(f"/api/v1/tickets/{ticket['id']}/history", headers=customer.headers)
        assert response.status_code == 200
        body = response.json()["data"]
        assert [e["field"] for e in body] == ["ticket", "status"]
        for event in body:
            assert "reason" not in event
            assert "isInternal" not in event

    def test_someone_elses_history_is_404(self, client: TestClient, db: Database) -> None:
        ticket = api_ticket(client, make_customer(db))
        response = client.get(f"/api/v1/tickets/{ticket['id']}/history", headers=make_customer(db).headers)
        assert_error(response, 404, "ticket_not_found")


class TestShortcuts:
    def test_my_tickets_lists_the_customers_own(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        mine = api_ticket(client, customer)["id"]
        api_ticket(client, make_customer(db))
        response = client.get("/api/v1/tickets/my-tickets", headers=customer.headers)
        assert response.status_code == 200
        assert [t["id"] for t in response.json()["data"]] == [mine]
        assert response.json()["pagination"]["total"] == 1

    def test_queue_is_unassigned_active_work_in_my_departments(
        self, client: TestClient, db: Database
    ) -> None:
        admin = make_admin(db)
        agent = make_agent(db)
        customer = make_customer(db)
        waiting = open_ticket(client, customer)["id"]
        taken = open_ticket(client, customer)["id"]
        done = open_ticket(client, customer)["id"]
        api_ticket(client, customer, department="billing")
        assign(db, admin, taken, agent)
        set_status(db, admin, done, TicketStatus.CLOSED)
        assert listed(client, agent, path="/queue") == [waiting]

    def test_customer_has_no_queue(self, client: TestClient, db: Database) -> None:
        response = client.get("/api/v1/tickets/queue", headers=make_customer(db).headers)
        assert_error(response, 403, "forbidden")

    def test_assigned_to_me_lists_my_active_tickets(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        agent = make_agent(db)
        customer = make_customer(db)
        mine = open_ticket(client, customer)["id"]
        resolved = open_ticket(client, customer)["id"]
        theirs = open_ticket(client, customer)["id"]
        assign(db, admin, mine, agent)
        assign(db, admin, resolved, agent)
        assign(db, admin, theirs, make_agent(db))
        set_status(db, admin, resolved, TicketStatus.RESOLVED)
        assert listed(client, agent, path="/assigned-to-me") == [mine]


class TestBulkUpdate:
    def test_one_failing_ticket_does_not_stop_the_others(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        agent = make_agent(db)
        customer = make_customer(db)
        working = open_ticket(client, customer)["id"]
        fresh = open_ticket(client, customer)["id"]
        assign(db, admin, working, agent)
        response = client.post(
            "/api/v1/tickets/bulk-update",
            json={"ticketIds": [working, fresh, 999999], "status": "resolved", "priority": "high"},
            headers=admin.headers,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["succeeded"] == 1
        assert body["failed"] == 2
        results = {r["ticketId"]: r for r in body["results"]}
        assert results[working] == {"ticketId": working, "ok": True, "error": None}
        assert results[fresh]["ok"] is False
        assert results[fresh]["error"]["code"] == "invalid_transition"
        assert results[999999]["error"]["code"] == "ticket_not_found"
        assert row(db, working).status is TicketStatus.RESOLVED
        assert row(db, working).priority is Priority.HIGH
        # The failing ticket keeps none of the change: no half-applied priority.
        assert row(db, fresh).status is TicketStatus.OPEN
        assert row(db, fresh).priority is Priority.MEDIUM

    def test_assign_and_tag_in_bulk(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        agent = make_agent(db)
        customer = make_customer(db)
        ids = [open_ticket(client, customer)["id"] for _ in range(3)]
        response = client.post(
            "/api/v1/tickets/bulk-update",
            json={"ticket_ids": ids, "assigned_to": agent.id, "add_tags": ["Outage"]},
            headers=admin.headers,
        )
        assert response.json()["succeeded"] == 3
        for ticket_id in ids:
            body = get(client, admin, ticket_id)
            assert body["assignee"]["id"] == agent.id
            assert body["status"] == "in_progress"
            assert [t["name"] for t in body["tags"]] == ["outage"]

    def test_agent_may_not_bulk_update(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        ticket = open_ticket(client, make_customer(db))["id"]
        response = client.post(
            "/api/v1/tickets/bulk-update",
            json={"ticketIds": [ticket], "priority": "low"},
            headers=agent.headers,
        )
        assert_error(response, 403, "forbidden")
        assert row(db, ticket).priority is Priority.MEDIUM

    def test_empty_id_list_is_422(self, client: TestClient, db: Database) -> None:
        response = client.post(
            "/api/v1/tickets/bulk-update",
            json={"ticketIds": [], "priority": "low"},
            headers=make_admin(db).headers,
        )
        assert_error(response, 422, "validation_error")
