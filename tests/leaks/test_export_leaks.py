"""Exports go through the same visibility as lists (docs/product.md §3): an agent's CSV or PDF never holds
a ticket of another department, customers export nothing, and a ticket's PDF is 404 to whoever
cannot see the ticket."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import api_ticket, make_admin, make_agent, make_customer, web_session
from tests.leaks.scene import NOTE_WORD, STAFF_ONLY_MARKERS, worked_ticket
from ticketry.core.db import Database

BILLING_TITLE = "Aardvarkbilling refund"


@pytest.fixture
def scene(client: TestClient, db: Database) -> dict[str, Any]:
    worked = worked_ticket(client, db)
    billing = api_ticket(client, worked.customer, title=BILLING_TITLE, department="billing")
    return {"worked": worked, "billing": billing, "tech": make_agent(db, departments=("technical",))}


def text_of(content: bytes, tmp_path: Path) -> str:
    path = tmp_path / "export.pdf"
    path.write_bytes(content)
    binary = shutil.which("pdftotext")
    assert binary
    return subprocess.run(  # noqa: S603 - a fixed binary on our own file
        [binary, str(path), "-"], capture_output=True, check=True, text=True
    ).stdout


def test_the_control_an_admin_exports_both(client: TestClient, db: Database, scene: dict[str, Any]) -> None:
    admin = make_admin(db)
    csv = client.get("/api/v1/tickets/export.csv?columns=title", headers=admin.headers).text
    assert BILLING_TITLE in csv and "Printer on fire" in csv


def test_an_agents_exports_hold_only_their_departments(
    client: TestClient, db: Database, scene: dict[str, Any], tmp_path: Path
) -> None:
    tech = scene["tech"]
    csv = client.get("/api/v1/tickets/export.csv?columns=title,customer,tags", headers=tech.headers)
    assert csv.status_code == 200 and "Printer on fire" in csv.text and BILLING_TITLE not in csv.text
    listed = client.get("/api/v1/tickets/export.pdf", headers=tech.headers)
    assert BILLING_TITLE not in text_of(listed.content, tmp_path)
    cookie, _ = web_session(db, tech)
    client.cookies.set("ticketry_session", cookie)
    try:
        desk = client.get("/desk/export.csv", params={"list": "view=all", "columns": "title"})
        assert "Printer on fire" in desk.text and BILLING_TITLE not in desk.text
        assert client.get(f"/desk/tickets/{scene['billing']['id']}/export.pdf").status_code == 404
    finally:
        client.cookies.clear()
    assert (
        client.get(f"/api/v1/tickets/{scene['billing']['id']}/export.pdf", headers=tech.headers).status_code
        == 404
    )


def test_customers_export_nothing(client: TestClient, db: Database, scene: dict[str, Any]) -> None:
    customer = scene["worked"].customer
    ticket_id = scene["worked"].ticket_id
    for path in (
        "/api/v1/tickets/export.csv",
        "/api/v1/tickets/export.pdf",
        f"/api/v1/tickets/{ticket_id}/export.pdf",
    ):
        response = client.get(path, headers=customer.headers)
        assert response.status_code == 403, path
        assert not any(marker in response.text for marker in STAFF_ONLY_MARKERS)
    cookie, _ = web_session(db, customer)
    client.cookies.set("ticketry_session", cookie)
    try:
        for path in ("/desk/export.csv", f"/desk/tickets/{ticket_id}/export.pdf"):
            response = client.get(path, follow_redirects=False)
            assert response.status_code in (303, 403), path
            assert NOTE_WORD not in response.text and "Printer on fire" not in response.text
    finally:
        client.cookies.clear()


def test_another_customers_staff_cannot_see_it_either(
    client: TestClient, db: Database, scene: dict[str, Any]
) -> None:
    """An agent of another department asking for the worked ticket's PDF: 404, no note text."""
    billing_agent = make_agent(db, departments=("billing",))
    response = client.get(
        f"/api/v1/tickets/{scene['worked'].ticket_id}/export.pdf", headers=billing_agent.headers
    )
    assert response.status_code == 404 and NOTE_WORD not in response.text
    other = make_customer(db)
    assert client.get("/api/v1/tickets/export.csv", headers=other.headers).status_code == 403
