"""The main path through the API, end to end."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.factories import PASSWORD, api_ticket, make_agent, make_customer

from ticketry.core.db import Database


class TestMainPath:
    def test_customer_opens_agent_answers_customer_never_sees_note(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        agent = make_agent(db)
        login = client.post("/api/v1/auth/login", json={"email": customer.email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        token = login.json()["token"]
        ticket = api_ticket(client, customer, department="technical")
        assert ticket["status"] == "open"
        assert str(ticket["number"]).startswith("TICK-")
        note = client.post(
            f"/api/v1/tickets/{ticket['id']}/replies",
            json={"message": "secret note", "isInternal": True},
            headers=agent.headers,
        )
        assert note.status_code == 201, note.text
        reply = client.post(
            f"/api/v1/tickets/{ticket['id']}/replies",
            json={"message": "public answer"},
            headers=agent.headers,
        )
        assert reply.status_code == 201
        seen = client.get(
            f"/api/v1/tickets/{ticket['id']}/replies", headers={"Authorization": f"Bearer {token}"}
        )
        assert [m["body"] for m in seen.json()["data"]] == ["public answer"]
        detail = client.get(f"/api/v1/tickets/{ticket['id']}", headers=customer.headers).json()
        assert detail["status"] == "answered"
        assert "assignee" not in detail
