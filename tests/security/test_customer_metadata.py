"""What the customer's side shows as a ticket's last change (issue 12 item 11; docs/product.md §1: staff
activity never reaches a customer). CWE-203 (observable discrepancy): `updatedAt` and `version` in
the customer's API answers, their list order and their `updated_from` filter moved whenever staff
wrote an internal note, assigned or tagged the ticket, so a customer could watch internal work
happen. Now they move only with what the customer sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.factories import Persona, make_admin, make_agent, make_customer, make_message, make_ticket
from ticketry.core.db import Database


def seen_by(client: TestClient, customer: Persona, ticket_id: int) -> tuple[str, int]:
    body = client.get(f"/api/v1/tickets/{ticket_id}", headers=customer.headers).json()
    return body["updatedAt"], body["version"]


class TestCustomerSideOfAChange:
    def test_notes_assignment_tags_and_watchers_do_not_move_it(
        self, client: TestClient, db: Database
    ) -> None:
        customer, agent, admin = make_customer(db), make_agent(db), make_admin(db)
        ticket = make_ticket(db, customer)
        before = seen_by(client, customer, ticket.id)
        make_message(db, agent, ticket.id, body="Internal only", internal=True)
        for method, path, body in (
            ("PATCH", f"/api/v1/tickets/{ticket.id}", {"tags": ["vip"]}),
            ("POST", f"/api/v1/tickets/{ticket.id}/watch", None),
            ("POST", f"/api/v1/tickets/{ticket.id}/watchers", {"userId": agent.id}),
        ):
            response = client.request(method, path, json=body, headers=admin.headers)
            assert response.status_code == 200, (path, response.text)
        assert seen_by(client, customer, ticket.id) == before
        staff = client.get(f"/api/v1/tickets/{ticket.id}", headers=agent.headers).json()
        assert staff["version"] > 1, "control: the staff side did change"

    def test_a_public_reply_and_a_status_change_do_move_it(self, client: TestClient, db: Database) -> None:
        customer, agent = make_customer(db), make_agent(db)
        ticket = make_ticket(db, customer)
        first = seen_by(client, customer, ticket.id)
        make_message(db, agent, ticket.id, body="We are on it.")
        second = seen_by(client, customer, ticket.id)
        assert second[1] > first[1] and second[0] > first[0]

    def test_the_customers_version_guards_their_edit_and_a_note_does_not_make_it_stale(
        self, client: TestClient, db: Database
    ) -> None:
        customer, agent = make_customer(db), make_agent(db)
        ticket = make_ticket(db, customer)
        _, version = seen_by(client, customer, ticket.id)
        make_message(db, agent, ticket.id, body="Internal only", internal=True)
        edited = client.patch(
            f"/api/v1/tickets/{ticket.id}",
            json={"title": "Clearer title", "version": version},
            headers=customer.headers,
        )
        assert edited.status_code == 200, edited.text
        stale = client.patch(
            f"/api/v1/tickets/{ticket.id}",
            json={"title": "Again", "version": version},
            headers=customer.headers,
        )
        assert stale.status_code == 409
        assert stale.json()["error"]["details"]["currentVersion"] == edited.json()["version"]

    def test_the_updated_filter_and_order_follow_the_customers_side(
        self, client: TestClient, db: Database
    ) -> None:
        customer, agent = make_customer(db), make_agent(db)
        older = make_ticket(db, customer, title="Older")
        newer = make_ticket(db, customer, title="Newer")
        since = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
        make_message(db, agent, older.id, body="Internal only", internal=True)
        listed = client.get("/api/v1/tickets?sort=updated_at&order=desc", headers=customer.headers).json()
        assert [t["id"] for t in listed["data"]] == [newer.id, older.id]
        recent = client.get(
            "/api/v1/tickets", params={"updated_from": since}, headers=customer.headers
        ).json()
        assert recent["data"] == []
