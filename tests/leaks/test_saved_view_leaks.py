"""Saved views never widen what anyone sees: a shared view is worked out for its viewer, someone
else's personal view does not exist, and customers have no views at all."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Persona, api_ticket, make_admin, make_agent, make_customer, web_session
from ticketry.core.db import Database

SECRET_TITLE = "Narwhalsecret billing refund"
PRIVATE_VIEW = "Okapiprivate shortlist"


@pytest.fixture
def scene(client: TestClient, db: Database) -> dict[str, Any]:
    """An admin shares "Everything urgent"; a billing ticket matches it; a technical agent keeps a
    personal view."""
    customer = make_customer(db)
    tech, other_tech = make_agent(db, departments=("technical",)), make_agent(db, departments=("technical",))
    admin = make_admin(db)
    api_ticket(client, customer, title=SECRET_TITLE, department="billing", priority="urgent")
    api_ticket(client, customer, title="Tech printer", department="technical", priority="urgent")
    shared = client.post(
        "/api/v1/views",
        json={"name": "Everything urgent", "query": "view=all&priority=urgent", "shared": True},
        headers=admin.headers,
    ).json()
    private = client.post(
        "/api/v1/views", json={"name": PRIVATE_VIEW, "query": "view=all&q=printer"}, headers=tech.headers
    ).json()
    return {
        "customer": customer,
        "tech": tech,
        "other_tech": other_tech,
        "admin": admin,
        "shared": shared,
        "private": private,
    }


def page_as(client: TestClient, db: Database, persona: Persona, path: str) -> str:
    cookie, _ = web_session(db, persona)
    client.cookies.clear()
    client.cookies.set("ticketry_session", cookie)
    try:
        return client.get(path, follow_redirects=True).text
    finally:
        client.cookies.clear()


def test_the_control_the_admin_sees_the_billing_ticket_in_the_shared_view(
    client: TestClient, scene: dict[str, Any]
) -> None:
    """Without this the checks below could pass for a view that shows nothing at all."""
    response = client.get(f"/api/v1/views/{scene['shared']['id']}/tickets", headers=scene["admin"].headers)
    assert SECRET_TITLE in response.text


def test_a_shared_view_shows_an_agent_only_their_own_departments(
    client: TestClient, db: Database, scene: dict[str, Any]
) -> None:
    tech: Persona = scene["tech"]
    view_id = scene["shared"]["id"]
    listed = client.get(f"/api/v1/views/{view_id}/tickets", headers=tech.headers)
    assert listed.status_code == 200 and SECRET_TITLE not in listed.text
    assert listed.json()["pagination"]["total"] == 1
    counts = {v["name"]: v["count"] for v in client.get("/api/v1/views", headers=tech.headers).json()["data"]}
    assert counts["Everything urgent"] == 1
    desk = page_as(client, db, tech, f"/desk?view=all&priority=urgent&saved={view_id}")
    assert "Everything urgent" in desk and SECRET_TITLE not in desk


@pytest.mark.parametrize("suffix", ["", "/tickets"])
def test_another_agents_personal_view_is_404_with_nothing_of_it(
    client: TestClient, scene: dict[str, Any], suffix: str
) -> None:
    response = client.get(
        f"/api/v1/views/{scene['private']['id']}{suffix}", headers=scene["other_tech"].headers
    )
    assert response.status_code == 404
    assert PRIVATE_VIEW not in response.text and "printer" not in response.text.lower()
    listed = client.get("/api/v1/views", headers=scene["other_tech"].headers)
    assert PRIVATE_VIEW not in listed.text


def test_another_agents_view_is_not_in_my_sidebar_even_by_its_id(
    client: TestClient, db: Database, scene: dict[str, Any]
) -> None:
    page = page_as(client, db, scene["other_tech"], f"/desk?view=all&saved={scene['private']['id']}")
    assert PRIVATE_VIEW not in page


@pytest.mark.parametrize("key", ["shared", "private"])
def test_customers_get_nothing_of_any_view(
    client: TestClient, db: Database, scene: dict[str, Any], key: str
) -> None:
    customer: Persona = scene["customer"]
    view_id = scene[key]["id"]
    for path in ("/api/v1/views", f"/api/v1/views/{view_id}", f"/api/v1/views/{view_id}/tickets"):
        response = client.get(path, headers=customer.headers)
        assert response.status_code == 403, (path, response.text)
        assert SECRET_TITLE not in response.text and "Everything urgent" not in response.text
    page = page_as(client, db, customer, "/desk/views")
    assert "Everything urgent" not in page and PRIVATE_VIEW not in page
