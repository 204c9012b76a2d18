"""Canned replies never reach a customer, and rendering never reaches a ticket the agent cannot
see (issue 6 part 1): every path answers a refusal that names nothing."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import api_ticket, make_agent
from tests.leaks.scene import ok, worked_ticket
from ticketry.canned.models import CannedReply
from ticketry.core.db import Database

SECRET_TITLE = "numbatcanned"
SECRET_BODY = "bilbybody {{customer.name}}"
BASE = "/api/v1/canned-replies"


class TestCustomers:
    def test_customer_cannot_list_see_or_use_canned_replies(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)
        shared = ok(
            client.post(
                BASE,
                json={"title": SECRET_TITLE, "body": SECRET_BODY, "category": SECRET_TITLE, "shared": True},
                headers=scene.admin.headers,
            ),
            201,
        )
        personal = ok(
            client.post(BASE, json={"title": SECRET_TITLE, "body": SECRET_BODY}, headers=scene.agent.headers),
            201,
        )
        customer = scene.customer.headers
        for reply_id in (shared["id"], personal["id"]):
            for method, path, body in (
                ("GET", BASE, None),
                ("GET", f"{BASE}?q={SECRET_TITLE}&scope=all", None),
                ("GET", f"{BASE}/categories", None),
                ("GET", f"{BASE}/{reply_id}", None),
                ("POST", f"{BASE}/{reply_id}/render", {"ticketId": scene.ticket_id}),
                ("POST", f"{BASE}/{reply_id}/preview", {"ticketId": scene.ticket_id}),
            ):
                response = client.request(method, path, json=body, headers=customer)
                assert response.status_code == 403, (method, path, response.text)
                assert SECRET_TITLE not in response.text and "bilby" not in response.text
        # The portal knows nothing of them either.
        page = client.get("/desk/canned", headers=customer, follow_redirects=False)
        assert page.status_code in (303, 401)
        with db.unit_of_work(write=False) as session:
            assert {r.usage_count for r in session.query(CannedReply)} == {0}


class TestAgents:
    def test_rendering_against_an_unseen_ticket_is_not_found(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)  # a technical ticket
        outsider = make_agent(db, departments=("billing",))
        reply = ok(
            client.post(
                BASE,
                json={"title": "Hi", "body": "{{ticket.title}} {{customer.email}}"},
                headers=outsider.headers,
            ),
            201,
        )
        for kind in ("render", "preview"):
            response = client.post(
                f"{BASE}/{reply['id']}/{kind}", json={"ticketId": scene.ticket_id}, headers=outsider.headers
            )
            assert response.status_code == 404
            assert response.json()["error"]["code"] == "ticket_not_found"
            assert "Printer on fire" not in response.text
            assert scene.customer.email not in response.text
        # ...exactly like a ticket that does not exist.
        missing = client.post(
            f"{BASE}/{reply['id']}/render", json={"ticketId": 9_999_999}, headers=outsider.headers
        )
        assert missing.status_code == 404
        assert ok(client.get(f"{BASE}/{reply['id']}", headers=outsider.headers))["usageCount"] == 0
        # Control: the ticket's own department renders it.
        own = api_ticket(client, scene.customer, department="billing", title="Billing question")
        text = ok(
            client.post(
                f"{BASE}/{reply['id']}/render", json={"ticketId": own["id"]}, headers=outsider.headers
            )
        )
        assert text["text"] == f"Billing question {scene.customer.email}"
