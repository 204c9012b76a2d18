"""Mass assignment: a customer sending fields they may not set. Each one is refused with a clear
4xx or ignored, and never applied (docs/product.md §1)."""

from __future__ import annotations

from typing import Any

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

from ticketry.core.db import Database

TICKETS = "/api/v1/tickets"


def _staff_view(client: TestClient, admin: Persona, ticket_id: int) -> dict[str, Any]:
    response = client.get(f"{TICKETS}/{ticket_id}", headers=admin.headers)
    assert response.status_code == 200, response.text
    view: dict[str, Any] = response.json()
    view.pop("viewCount")
    return view


def _id(ticket: dict[str, Any]) -> int:
    return int(ticket["id"])


def _count(client: TestClient, admin: Persona) -> int:
    total: int = client.get(TICKETS, headers=admin.headers).json()["pagination"]["total"]
    return total


class TestCreateTicket:
    @pytest.mark.parametrize(
        "extra",
        [
            {"status": "closed"},
            {"status": "resolved"},
            {"assigneeId": 1},
            {"assignedTo": 1},
            {"assignee": {"id": 1}},
            {"isInternal": True},
            {"id": 999},
            {"number": "TICK-1999-0001"},
            {"createdAt": "2001-01-01T00:00:00Z"},
            {"createdById": 1},
            {"viewCount": 1000},
            {"version": 42},
            {"statusReason": "vip"},
            {"firstResponseAt": "2001-01-01T00:00:00Z"},
            {"deletedAt": "2001-01-01T00:00:00Z"},
            {"source": "email"},
            {"watchers": [1]},
            {"descriptionHtml": "<script>alert(1)</script>"},
        ],
    )
    def test_customer_cannot_set_a_field_by_creating(
        self, client: TestClient, db: Database, extra: dict[str, Any]
    ) -> None:
        customer = make_customer(db)
        admin = make_admin(db)
        response = client.post(
            TICKETS, json={"title": "Help", "description": "Please", **extra}, headers=customer.headers
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "validation_error"
        assert _count(client, admin) == 0

    def test_customer_filing_for_someone_else_files_for_themself(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        victim = make_customer(db)
        admin = make_admin(db)

        ticket = api_ticket(client, customer, customerId=victim.id)

        assert _staff_view(client, admin, _id(ticket))["customer"]["id"] == customer.id
        assert client.get(f"{TICKETS}/my-tickets", headers=victim.headers).json()["data"] == []

    def test_customer_tags_on_create_are_ignored(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        admin = make_admin(db)
        ticket = api_ticket(client, customer, tags=["vip", "refund-approved"])
        assert _staff_view(client, admin, _id(ticket))["tags"] == []

    def test_a_new_ticket_starts_open_unassigned_at_version_1(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        admin = make_admin(db)
        ticket = api_ticket(client, customer)
        view = _staff_view(client, admin, _id(ticket))
        assert (view["status"], view["assignee"], view["version"], view["source"]) == ("open", None, 1, "api")

    def test_agent_may_file_for_a_customer(self, client: TestClient, db: Database) -> None:
        """Control: `customerId` is a staff field, not a dead one."""
        customer = make_customer(db)
        agent = make_agent(db)
        admin = make_admin(db)
        ticket = api_ticket(client, agent, customerId=customer.id)
        assert _staff_view(client, admin, _id(ticket))["customer"]["id"] == customer.id


class TestUpdateTicket:
    @pytest.mark.parametrize(
        "change",
        [
            {"priority": "urgent"},
            {"department": "billing"},
            {"category": 1},
            {"tags": ["vip"]},
            {"title": "Fine", "priority": "urgent"},
        ],
    )
    def test_customer_cannot_change_a_staff_field(
        self, client: TestClient, db: Database, change: dict[str, Any]
    ) -> None:
        customer = make_customer(db)
        admin = make_admin(db)
        ticket = make_ticket(db, customer)
        before = _staff_view(client, admin, ticket.id)

        response = client.patch(f"{TICKETS}/{ticket.id}", json=change, headers=customer.headers)

        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "edit_not_allowed"
        assert _staff_view(client, admin, ticket.id) == before

    @pytest.mark.parametrize(
        "change",
        [
            {"status": "closed"},
            {"assigneeId": 1},
            {"assignedTo": 1},
            {"isInternal": True},
            {"id": 999},
            {"number": "TICK-1999-0001"},
            {"customerId": 1},
            {"createdAt": "2001-01-01T00:00:00Z"},
            {"viewCount": 0},
            {"statusReason": "x"},
            {"deletedAt": None},
            {"firstResponseAt": None},
        ],
    )
    @pytest.mark.parametrize("method", ["PATCH", "PUT"])
    def test_undeclared_field_is_refused(
        self, client: TestClient, db: Database, change: dict[str, Any], method: str
    ) -> None:
        customer = make_customer(db)
        admin = make_admin(db)
        ticket = make_ticket(db, customer)
        before = _staff_view(client, admin, ticket.id)

        response = client.request(
            method, f"{TICKETS}/{ticket.id}", json={"title": "New", **change}, headers=customer.headers
        )

        assert response.status_code == 422, response.text
        assert _staff_view(client, admin, ticket.id) == before

    def test_version_is_a_precondition_never_a_value_to_set(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        ticket = make_ticket(db, customer)
        response = client.patch(
            f"{TICKETS}/{ticket.id}", json={"title": "New", "version": 1}, headers=customer.headers
        )
        assert response.status_code == 200
        assert response.json()["version"] == 2

    @pytest.mark.parametrize("version", [0, 2, 1000])
    def test_wrong_version_is_a_409_and_changes_nothing(
        self, client: TestClient, db: Database, version: int
    ) -> None:
        customer = make_customer(db)
        admin = make_admin(db)
        ticket = make_ticket(db, customer)
        before = _staff_view(client, admin, ticket.id)
        response = client.patch(
            f"{TICKETS}/{ticket.id}", json={"title": "New", "version": version}, headers=customer.headers
        )
        assert response.status_code == 409
        assert _staff_view(client, admin, ticket.id) == before

    def test_stale_if_match_is_a_409(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        ticket = make_ticket(db, customer)
        response = client.patch(
            f"{TICKETS}/{ticket.id}", json={"title": "New"}, headers={**customer.headers, "If-Match": '"7"'}
        )
        assert response.status_code == 409

    def test_stale_body_version_is_not_rescued_by_a_current_if_match(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        ticket = make_ticket(db, customer)
        response = client.patch(
            f"{TICKETS}/{ticket.id}",
            json={"title": "New", "version": 5},
            headers={**customer.headers, "If-Match": '"1"'},
        )
        assert response.status_code == 409


class TestStatusAndReplies:
    @pytest.mark.parametrize(
        "status", ["answered", "in_progress", "on_hold", "waiting_for_response", "resolved"]
    )
    def test_customer_cannot_set_a_staff_status(self, client: TestClient, db: Database, status: str) -> None:
        customer = make_customer(db)
        admin = make_admin(db)
        ticket = make_ticket(db, customer)
        response = client.put(
            f"{TICKETS}/{ticket.id}/status", json={"status": status}, headers=customer.headers
        )
        assert response.status_code == 403
        assert _staff_view(client, admin, ticket.id)["status"] == "open"

    @pytest.mark.parametrize(
        ("extra", "status"),
        [
            ({"isInternal": True}, 403),
            ({"isSolution": True}, 403),
            ({"isStaffReply": True}, 422),
            ({"authorId": 1}, 422),
            ({"ticketId": 2}, 422),
            ({"source": "email"}, 422),
            ({"createdAt": "2001-01-01T00:00:00Z"}, 422),
            ({"bodyHtml": "<script>alert(1)</script>"}, 422),
        ],
    )
    def test_customer_cannot_forge_a_reply(
        self, client: TestClient, db: Database, extra: dict[str, Any], status: int
    ) -> None:
        customer = make_customer(db)
        admin = make_admin(db)
        ticket = make_ticket(db, customer)
        response = client.post(
            f"{TICKETS}/{ticket.id}/replies", json={"message": "Hi", **extra}, headers=customer.headers
        )
        assert response.status_code == status, response.text
        assert client.get(f"{TICKETS}/{ticket.id}/replies", headers=admin.headers).json()["data"] == []

    def test_customer_reply_is_never_a_staff_reply(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        ticket = make_ticket(db, customer)
        response = client.post(
            f"{TICKETS}/{ticket.id}/replies", json={"message": "Hi"}, headers=customer.headers
        )
        assert response.status_code == 201
        assert (response.json()["isStaffReply"], response.json()["isSolution"]) == (False, False)

    def test_customer_cannot_promote_themself(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        response = client.patch(
            f"/api/v1/users/{customer.id}", json={"role": "admin"}, headers=customer.headers
        )
        assert response.status_code == 403
        assert client.get("/api/v1/users/me", headers=customer.headers).json()["role"] == "customer"

    def test_customer_cannot_bulk_update_their_own_ticket(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        admin = make_admin(db)
        ticket = make_ticket(db, customer)
        response = client.post(
            f"{TICKETS}/bulk-update",
            json={"ticketIds": [ticket.id], "priority": "urgent"},
            headers=customer.headers,
        )
        assert response.status_code == 403
        assert _staff_view(client, admin, ticket.id)["priority"] == "medium"


class TestCustomerEditWindow:
    """docs/product.md §1: title and description of an own ticket while it is `open` with no staff reply."""

    def test_open_unanswered_ticket_is_editable(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        ticket = make_ticket(db, customer)
        assert client.get(f"{TICKETS}/{ticket.id}", headers=customer.headers).json()["editable"] is True
        response = client.patch(
            f"{TICKETS}/{ticket.id}",
            json={"title": "Better title", "description": "More detail"},
            headers=customer.headers,
        )
        assert response.status_code == 200, response.text
        assert (response.json()["title"], response.json()["description"]) == ("Better title", "More detail")

    def test_after_a_staff_reply_it_is_not(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        agent = make_agent(db, departments=("technical",))
        ticket = make_ticket(db, customer)
        make_message(db, agent, ticket.id, body="We are on it.")
        # The customer answers, which reopens the ticket: still answered by staff, so still locked.
        make_message(db, customer, ticket.id, body="Thanks")
        assert client.get(f"{TICKETS}/{ticket.id}", headers=customer.headers).json()["status"] == "open"

        response = client.patch(f"{TICKETS}/{ticket.id}", json={"title": "Changed"}, headers=customer.headers)

        assert response.status_code == 403
        assert response.json()["error"]["code"] == "edit_not_allowed"
        assert client.get(f"{TICKETS}/{ticket.id}", headers=customer.headers).json()["editable"] is False

    def test_an_internal_note_does_not_close_the_window(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        agent = make_agent(db, departments=("technical",))
        ticket = make_ticket(db, customer)
        make_message(db, agent, ticket.id, body="Internal only", internal=True)
        response = client.patch(f"{TICKETS}/{ticket.id}", json={"title": "Changed"}, headers=customer.headers)
        assert response.status_code == 200

    @pytest.mark.parametrize("status", ["closed", "in_progress", "on_hold"])
    def test_a_ticket_that_is_no_longer_open_is_not(
        self, client: TestClient, db: Database, status: str
    ) -> None:
        customer = make_customer(db)
        admin = make_admin(db)
        ticket = make_ticket(db, customer)
        changed = client.put(f"{TICKETS}/{ticket.id}/status", json={"status": status}, headers=admin.headers)
        assert changed.status_code == 200, changed.text

        response = client.patch(
            f"{TICKETS}/{ticket.id}", json={"description": "Changed"}, headers=customer.headers
        )

        assert response.status_code == 403
        assert _staff_view(client, admin, ticket.id)["description"] == "It is really on fire."

    def test_reopened_ticket_that_staff_answered_stays_locked(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        agent = make_agent(db, departments=("technical",))
        ticket = make_ticket(db, customer)
        make_message(db, agent, ticket.id, body="Done.")
        assert client.post(f"{TICKETS}/{ticket.id}/close", headers=customer.headers).status_code == 200
        assert client.post(f"{TICKETS}/{ticket.id}/reopen", headers=customer.headers).status_code == 200
        response = client.patch(f"{TICKETS}/{ticket.id}", json={"title": "Changed"}, headers=customer.headers)
        assert response.status_code == 403
