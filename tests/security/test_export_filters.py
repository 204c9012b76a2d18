"""Exports with a filter the list refuses (issue 12, item 9).

Attack class: improper handling of exceptional conditions (CWE-755) in a streamed answer. An
unknown filter value (`department=AAA`) made the CSV export answer `200 OK` with a header row and
then break off mid-stream: a client (a spreadsheet import, a nightly sync) sees a complete-looking,
truncated file and takes it for "no tickets", and the server logs an unhandled error for every
such request. The export must refuse exactly what the list refuses, with the list's status and
error envelope, before the first byte; the PDF exports likewise, whether or not the PDF extra is
installed.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Persona, make_admin, make_agent, make_customer, make_ticket, web_session
from ticketry.core.db import Database
from ticketry.exports import pdf

# Filter values no ticket has: the list refuses some (404, 422) and answers others with nothing.
UNKNOWN = [
    "department=AAA",
    "department=999999",
    "department=technical&department=AAA",
    "status=bogus",
    "priority=urgentest",
    "assigned_to=someone",
    "assigned_to=999999",
    "tag=no-such-tag",
    "category=999999",
    "customer_id=999999",
    "source=pigeon",
    "created_from=yesterday",
    "sort=nonsense",
]


@pytest.fixture
def admin(db: Database) -> Persona:
    admin = make_admin(db)
    make_ticket(db, make_customer(db), title="Visible", department="technical")
    return admin


def error_of(response: Any) -> tuple[int, str | None]:
    if response.status_code < 400:
        return response.status_code, None
    return response.status_code, response.json()["error"]["code"]


class TestApiExports:
    @pytest.mark.parametrize("query", UNKNOWN)
    def test_the_csv_answers_what_the_list_answers(
        self, client: TestClient, admin: Persona, query: str
    ) -> None:
        listed = client.get(f"/api/v1/tickets?{query}", headers=admin.headers)
        exported = client.get(f"/api/v1/tickets/export.csv?{query}", headers=admin.headers)
        assert error_of(exported) == error_of(listed), exported.text[:200]
        if listed.status_code == 200:
            assert listed.json()["data"] == []
            assert exported.text.count("\r\n") == 1  # the header row alone: nothing matched

    def test_an_unknown_department_is_a_404_before_the_first_byte(
        self, client: TestClient, admin: Persona
    ) -> None:
        with client.stream(
            "GET", "/api/v1/tickets/export.csv?department=AAA", headers=admin.headers
        ) as response:
            body = response.read()
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/json"
        assert b"Number,Title" not in body
        assert response.json()["error"]["code"] == "department_not_found"

    @pytest.mark.parametrize("query", UNKNOWN)
    def test_the_list_pdf_answers_what_the_list_answers(
        self, client: TestClient, admin: Persona, query: str
    ) -> None:
        listed = client.get(f"/api/v1/tickets?{query}", headers=admin.headers)
        exported = client.get(f"/api/v1/tickets/export.pdf?{query}", headers=admin.headers)
        assert error_of(exported) == error_of(listed), exported.text[:200]

    def test_without_the_pdf_extra_a_bad_filter_is_still_the_lists_refusal(
        self, client: TestClient, admin: Persona, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The client's mistake comes first; 501 is for a request that would otherwise work."""
        monkeypatch.setattr(pdf, "available", lambda: False)
        bad = client.get("/api/v1/tickets/export.pdf?department=AAA", headers=admin.headers)
        good = client.get("/api/v1/tickets/export.pdf", headers=admin.headers)
        assert error_of(bad) == (404, "department_not_found")
        assert error_of(good) == (501, "pdf_unavailable")

    def test_without_the_pdf_extra_an_unseen_ticket_is_still_a_404(
        self, client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(pdf, "available", lambda: False)
        agent = make_agent(db, departments=("billing",))
        hidden = make_ticket(db, make_customer(db), department="technical")
        response = client.get(f"/api/v1/tickets/{hidden.id}/export.pdf", headers=agent.headers)
        assert error_of(response) == (404, "ticket_not_found")


class TestDeskExports:
    @pytest.mark.parametrize("path", ["/desk/export.csv", "/desk/export.pdf"])
    @pytest.mark.parametrize("query", ["department=AAA", "department=999999"])
    def test_an_unknown_department_is_the_desk_lists_404(
        self, client: TestClient, db: Database, admin: Persona, path: str, query: str
    ) -> None:
        cookie, _ = web_session(db, admin)
        client.cookies.set("ticketry_session", cookie)
        listed = client.get(f"/desk?view=all&{query}")
        with client.stream("GET", path, params={"list": f"view=all&{query}"}) as exported:
            body = exported.read()
        assert listed.status_code == exported.status_code == 404
        assert exported.headers["content-type"].startswith("text/html")
        assert b"Number,Title" not in body and not body.startswith(b"%PDF")
