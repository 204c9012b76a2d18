"""Tags are staff-only (docs/product.md §1): customers never read or set them, and an agent's tag counts
count only tickets the agent can see."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import api_ticket, make_admin, make_agent, make_customer, web_session
from ticketry.core.db import Database

SECRET_TAG = "gnuhiddentag"


@pytest.fixture
def scene(client: TestClient, db: Database) -> dict[str, Any]:
    customer = make_customer(db)
    admin = make_admin(db)
    ticket = api_ticket(client, customer, title="Printer", department="technical")
    billing = api_ticket(client, customer, title="Invoice", department="billing")
    for ticket_id in (ticket["id"], billing["id"]):
        response = client.post(
            f"/api/v1/tickets/{ticket_id}/tags", json={"name": SECRET_TAG}, headers=admin.headers
        )
        assert response.status_code == 200, response.text
    return {"customer": customer, "admin": admin, "ticket": ticket, "billing": billing}


def test_the_control_staff_see_the_tag(client: TestClient, scene: dict[str, Any]) -> None:
    detail = client.get(f"/api/v1/tickets/{scene['ticket']['id']}", headers=scene["admin"].headers)
    assert SECRET_TAG in detail.text


def test_customers_never_see_tags(client: TestClient, db: Database, scene: dict[str, Any]) -> None:
    customer = scene["customer"]
    ticket_id = scene["ticket"]["id"]
    for path in (
        f"/api/v1/tickets/{ticket_id}",
        "/api/v1/tickets",
        f"/api/v1/tickets/{ticket_id}/history",
        "/api/v1/tags",
        f"/api/v1/tags?q={SECRET_TAG[:3]}",
    ):
        response = client.get(path, headers=customer.headers)
        assert SECRET_TAG not in response.text, path
    assert client.get("/api/v1/tags", headers=customer.headers).status_code == 403
    assert client.get(f"/api/v1/tickets?tag={SECRET_TAG}", headers=customer.headers).status_code == 403
    cookie, _ = web_session(db, customer)
    client.cookies.set("ticketry_session", cookie)
    try:
        for path in (f"/tickets/{ticket_id}", "/", "/desk/tags.css"):
            page = client.get(path, follow_redirects=True).text
            assert SECRET_TAG not in page, path
    finally:
        client.cookies.clear()


def test_customers_cannot_tag(client: TestClient, scene: dict[str, Any]) -> None:
    url = f"/api/v1/tickets/{scene['ticket']['id']}/tags"
    assert client.post(url, json={"name": "mine"}, headers=scene["customer"].headers).status_code == 403
    assert client.delete(f"{url}/{SECRET_TAG}", headers=scene["customer"].headers).status_code == 403


def test_an_agents_counts_cover_only_their_tickets(
    client: TestClient, db: Database, scene: dict[str, Any]
) -> None:
    tech = make_agent(db, departments=("technical",))
    counts = {t["name"]: t["count"] for t in client.get("/api/v1/tags", headers=tech.headers).json()["data"]}
    assert counts == {SECRET_TAG: 1}
    admin_counts = client.get("/api/v1/tags", headers=scene["admin"].headers).json()["data"]
    assert [t["count"] for t in admin_counts] == [2]
    # Nor can the agent tag the billing ticket they cannot see.
    url = f"/api/v1/tickets/{scene['billing']['id']}/tags"
    assert client.post(url, json={"name": "x"}, headers=tech.headers).status_code == 404
