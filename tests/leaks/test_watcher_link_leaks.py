"""Watchers and links are staff-only, and a link never shows a ticket its reader cannot see.

Watching must not be a way in: an agent cannot watch, list the watchers of, or link to a ticket
outside their visibility (404, as if it did not exist).
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Persona, api_ticket, make_admin, make_customer, make_user, web_session
from ticketry.core.db import Database
from ticketry.users.models import Role

WATCHER_NAME = "Wilhelmina Watcherword"
HIDDEN_TITLE = "Zebrahiddenlink printer"


@pytest.fixture
def scene(client: TestClient, db: Database) -> dict[str, Any]:
    """A customer's technical ticket, watched by a named agent and linked by an admin to a
    technical ticket of another customer, and to a billing ticket."""
    customer, other = make_customer(db), make_customer(db)
    watcher = make_user(db, role=Role.AGENT, departments=("technical",), name=WATCHER_NAME)
    billing = make_user(db, role=Role.AGENT, departments=("billing",))
    admin = make_admin(db)
    mine = api_ticket(client, customer, title="My printer", department="technical")
    hidden = api_ticket(client, other, title=HIDDEN_TITLE, department="technical")
    billing_ticket = api_ticket(client, other, title="Invoice twice", department="billing")
    assert client.post(f"/api/v1/tickets/{mine['id']}/watch", headers=watcher.headers).status_code == 200
    for target in (hidden, billing_ticket):
        response = client.post(
            f"/api/v1/tickets/{mine['id']}/links",
            json={"ticketId": target["id"], "kind": "related"},
            headers=admin.headers,
        )
        assert response.status_code == 201, response.text
    hidden_link = client.post(
        f"/api/v1/tickets/{billing_ticket['id']}/links",
        json={"number": hidden["number"], "kind": "parent"},
        headers=admin.headers,
    )
    assert hidden_link.status_code == 201, hidden_link.text
    return {
        "customer": customer,
        "watcher": watcher,
        "billing": billing,
        "admin": admin,
        "mine": mine,
        "hidden": hidden,
        "billing_ticket": billing_ticket,
        "hidden_link_id": hidden_link.json()["id"],
    }


def secrets_in(text: str, scene: dict[str, Any]) -> list[str]:
    words = [WATCHER_NAME, HIDDEN_TITLE, scene["hidden"]["number"], scene["billing_ticket"]["number"]]
    return [word for word in words if word in text]


class TestCustomers:
    def test_no_api_answer_to_the_customer_names_watchers_or_linked_tickets(
        self, client: TestClient, scene: dict[str, Any]
    ) -> None:
        customer: Persona = scene["customer"]
        base = f"/api/v1/tickets/{scene['mine']['id']}"
        for path in ("", "/history", "/replies", "/watchers", "/links"):
            response = client.get(base + path, headers=customer.headers)
            assert response.status_code in (200, 403, 404), (path, response.status_code)
            assert secrets_in(response.text, scene) == [], path
        listing = client.get("/api/v1/tickets", headers=customer.headers)
        assert secrets_in(listing.text, scene) == []
        assert "watchers" not in client.get(base, headers=customer.headers).json()

    def test_the_portal_page_shows_neither(
        self, client: TestClient, db: Database, scene: dict[str, Any]
    ) -> None:
        cookie, _ = web_session(db, scene["customer"])
        client.cookies.set("ticketry_session", cookie)
        page = client.get(f"/tickets/{scene['mine']['id']}", follow_redirects=False)
        assert page.status_code == 200
        assert "My printer" in page.text
        assert secrets_in(page.text, scene) == []
        assert "Watchers" not in page.text and "Linked tickets" not in page.text


class TestAgentsOutsideTheirDepartments:
    def test_links_to_tickets_an_agent_cannot_see_are_not_shown_anywhere(
        self, client: TestClient, db: Database, scene: dict[str, Any]
    ) -> None:
        billing: Persona = scene["billing"]
        ticket_id = scene["billing_ticket"]["id"]
        links = client.get(f"/api/v1/tickets/{ticket_id}/links", headers=billing.headers)
        assert links.status_code == 200
        assert links.json()["data"] == [], "both links lead to technical tickets"
        for path in ("", "/history"):
            response = client.get(f"/api/v1/tickets/{ticket_id}{path}", headers=billing.headers)
            assert response.status_code == 200
            assert secrets_in(response.text.replace(scene["billing_ticket"]["number"], ""), scene) == []
        cookie, _ = web_session(db, billing)
        client.cookies.set("ticketry_session", cookie)
        page = client.get(f"/desk/tickets/{ticket_id}")
        assert page.status_code == 200
        assert "Invoice twice" in page.text
        assert secrets_in(page.text.replace(scene["billing_ticket"]["number"], ""), scene) == []
        assert "No linked tickets." in page.text

    def test_control_the_admin_sees_those_links(self, client: TestClient, scene: dict[str, Any]) -> None:
        links = client.get(
            f"/api/v1/tickets/{scene['billing_ticket']['id']}/links", headers=scene["admin"].headers
        )
        assert {item["ticket"]["number"] for item in links.json()["data"]} == {
            scene["hidden"]["number"],
            scene["mine"]["number"],
        }

    def test_an_agent_cannot_watch_or_inspect_a_ticket_they_cannot_see(
        self, client: TestClient, scene: dict[str, Any]
    ) -> None:
        billing: Persona = scene["billing"]
        hidden = f"/api/v1/tickets/{scene['hidden']['id']}"
        for method, path in (
            ("POST", "/watch"),
            ("DELETE", "/watch"),
            ("GET", "/watchers"),
            ("GET", "/links"),
            ("DELETE", f"/links/{scene['hidden_link_id']}"),
        ):
            response = client.request(method, hidden + path, headers=billing.headers)
            assert response.status_code == 404, (method, path, response.text)
            assert secrets_in(response.text, scene) == []
        assert client.get(hidden, headers=billing.headers).status_code == 404, "watching did not let them in"
        watched = client.get("/api/v1/tickets?watched=true", headers=billing.headers).json()
        assert watched["data"] == []

    def test_an_agent_cannot_link_to_or_unlink_a_ticket_they_cannot_see(
        self, client: TestClient, scene: dict[str, Any]
    ) -> None:
        billing: Persona = scene["billing"]
        own = f"/api/v1/tickets/{scene['billing_ticket']['id']}"
        for body in ({"ticketId": scene["hidden"]["id"]}, {"number": scene["hidden"]["number"]}):
            response = client.post(f"{own}/links", json={**body, "kind": "related"}, headers=billing.headers)
            assert response.status_code == 404, response.text
            assert HIDDEN_TITLE not in response.text
        # The link from their own ticket to the hidden one exists, but not for them.
        removing = client.delete(f"{own}/links/{scene['hidden_link_id']}", headers=billing.headers)
        assert removing.status_code == 404
        assert client.get(f"{own}/links", headers=scene["admin"].headers).json()["pagination"]["total"] == 2

    def test_the_desk_forms_refuse_the_same(
        self, client: TestClient, db: Database, scene: dict[str, Any]
    ) -> None:
        """Desk forms answer a refusal with a redirect and an error flash; nothing changes."""
        billing: Persona = scene["billing"]
        cookie, csrf = web_session(db, billing)
        client.cookies.set("ticketry_session", cookie)
        hidden_id = scene["hidden"]["id"]
        watch = client.post(
            f"/desk/tickets/{hidden_id}/watch",
            data={"csrf_token": csrf, "watching": "true"},
            follow_redirects=False,
        )
        linking = client.post(
            f"/desk/tickets/{scene['billing_ticket']['id']}/links",
            data={"csrf_token": csrf, "other": scene["hidden"]["number"], "kind": "related"},
            follow_redirects=False,
        )
        for response in (watch, linking):
            assert response.status_code == 303
            flash = response.headers["set-cookie"]
            assert "%22error%22" in flash and "not%20found" in flash
            assert secrets_in(response.text + flash, scene) == []
        assert client.get(f"/desk/tickets/{hidden_id}").status_code == 404
        admin = scene["admin"].headers
        watchers = client.get(f"/api/v1/tickets/{hidden_id}/watchers", headers=admin).json()
        assert watchers["data"] == []
        links = client.get(f"/api/v1/tickets/{scene['billing_ticket']['id']}/links", headers=admin).json()
        assert links["pagination"]["total"] == 2
