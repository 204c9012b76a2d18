"""NUL and other control characters in what a client sends (issue 12, item 12).

Attack: NUL byte injection, CWE-158 (improper neutralization of null byte or NUL character), and
control characters in text generally (CWE-20). SQLite stored a NUL that PostgreSQL refuses, so the
same request was accepted on one backend and a 422 on the other "by luck of the driver"; worse,
the password-reset form, reachable without signing in, queued a job carrying the NUL that then
failed on every retry on PostgreSQL, filling the dead-job list at will. Anywhere a client sends
text (JSON bodies as `\\u0000`, multipart and url-encoded forms as `%00` or a raw byte, query
strings, paths) Unicode's control characters are refused with a 422 naming the field, on both
backends, before anything is written; tab, LF and CR are allowed in text, and a single-line column
(titles, names) stores a line break as a space. Nothing with a NUL reaches a row or a job payload
by any other path either (the storage backstop in `core.db`).
"""

from __future__ import annotations

import re
from typing import Any, TypedDict

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import Persona, api_ticket, make_admin, make_customer, make_ticket, web_session
from ticketry.auth import mail as account_mail
from ticketry.core.db import Database
from ticketry.core.errors import ValidationFailed
from ticketry.jobs import service as jobs
from ticketry.jobs.events import Event
from ticketry.jobs.models import Job
from ticketry.tickets.models import Ticket
from ticketry.users.models import User


class Nested(TypedDict):
    nested: dict[str, list[str]]


ANY_JOB = Event("tests.security.any_job", Nested)
# Refused everywhere: C0 but tab, LF and CR; DEL; C1.
REFUSED = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f", "\x80", "\x85", "\x9f"]


def job_count(db: Database) -> int:
    with db.unit_of_work(write=False) as session:
        return session.scalar(select(func.count()).select_from(Job)) or 0


def ticket_count(db: Database) -> int:
    with db.unit_of_work(write=False) as session:
        return session.scalar(select(func.count()).select_from(Ticket)) or 0


def refused_field(response: Any) -> str:
    """The field a 422 envelope names for a control character."""
    assert response.status_code == 422, response.text
    [problem] = response.json()["error"]["details"]["errors"]
    assert problem["type"] == "control_character", problem
    field: str = problem["field"]
    return field


def flashed(response: Any) -> str:
    """The flash a refused form is sent back with (url-encoded in its cookie)."""
    assert response.status_code == 303, response.text
    return response.headers.get("set-cookie", "")


def anonymous_form(client: TestClient, path: str) -> str:
    """Like a browser: the form first, for its pre-sign-in CSRF cookie and field."""
    page = client.get(path)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    return token.group(1)


class TestPasswordResetWithoutSigningIn:
    """The one reachable by anyone: before the fix it queued a job that never ran on PostgreSQL."""

    @pytest.mark.parametrize(
        "raw", [b"a%00b%40example.test", b"a%1Bb%40example.test", b"a\x00b%40example.test"]
    )
    def test_the_form_url_encoded_is_refused_and_queues_nothing(
        self, client: TestClient, db: Database, raw: bytes
    ) -> None:
        csrf = anonymous_form(client, "/password/forgot")
        before = job_count(db)
        response = client.post(
            "/password/forgot",
            content=b"email=" + raw + b"&csrf_token=" + csrf.encode(),
            headers={"content-type": "application/x-www-form-urlencoded"},
            follow_redirects=False,
        )
        assert "control%20characters" in flashed(response)
        assert job_count(db) == before

    def test_the_form_as_multipart_is_refused_and_queues_nothing(
        self, client: TestClient, db: Database
    ) -> None:
        csrf = anonymous_form(client, "/password/forgot")
        before = job_count(db)
        response = client.post(
            "/password/forgot",
            files={"email": (None, "a\x00b@example.test"), "csrf_token": (None, csrf)},
            follow_redirects=False,
        )
        assert "control%20characters" in flashed(response)
        assert job_count(db) == before

    def test_the_same_form_without_a_control_character_still_queues_the_job(
        self, client: TestClient, db: Database
    ) -> None:
        """The refusal above is the rule's, not the form's: a clean address goes through."""
        csrf = anonymous_form(client, "/password/forgot")
        before = job_count(db)
        response = client.post(
            "/password/forgot", data={"email": "ab@example.test", "csrf_token": csrf}, follow_redirects=False
        )
        assert response.status_code == 303
        assert job_count(db) == before + 1

    @pytest.mark.parametrize(
        "body", [b'{"email": "a\\u0000b@example.test"}', b'{"email": "a\\u001bb@example.test"}']
    )
    def test_the_api_is_refused_and_queues_nothing(
        self, client: TestClient, db: Database, body: bytes
    ) -> None:
        before = job_count(db)
        response = client.post(
            "/api/v1/auth/password-reset", content=body, headers={"content-type": "application/json"}
        )
        assert refused_field(response) == "email"
        assert job_count(db) == before

    def test_no_path_can_queue_the_job_with_a_nul(self, db: Database) -> None:
        """Below HTTP (a future caller, the CLI): the job payload itself refuses it, on both
        backends, so no job exists that fails on every retry."""
        with pytest.raises(ValidationFailed), db.unit_of_work() as session:
            account_mail.request_password_reset(session, "a\x00b@example.test")
        with pytest.raises(ValidationFailed), db.unit_of_work() as session:
            jobs.enqueue(session, ANY_JOB({"nested": {"list": ["fine", "not\x00fine"]}}))
        assert job_count(db) == 0


class TestApiBodies:
    @pytest.mark.parametrize("character", REFUSED)
    def test_json_with_a_control_character_is_a_422_naming_the_field(
        self, client: TestClient, db: Database, character: str
    ) -> None:
        customer = make_customer(db)
        body = {"title": "Printer", "description": f"It is {character} broken"}
        response = client.post("/api/v1/tickets", json=body, headers=customer.headers)
        assert refused_field(response) == "description"
        assert ticket_count(db) == 0

    @pytest.mark.parametrize(
        "raw",
        [
            b'{"title": "Nul\\u0000", "description": "d"}',
            b'{"title": "Escape\\u001b[31m", "description": "d"}',
            b'{"title": "C1 \\u0085", "description": "d"}',
            '{"title": "C1 \u0085 raw", "description": "d"}'.encode(),
        ],
    )
    def test_json_escapes_and_raw_characters_are_refused(
        self, client: TestClient, db: Database, raw: bytes
    ) -> None:
        customer = make_customer(db)
        response = client.post(
            "/api/v1/tickets", content=raw, headers={**customer.headers, "content-type": "application/json"}
        )
        assert refused_field(response) == "title"
        assert ticket_count(db) == 0

    def test_multipart_fields_are_refused(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        response = client.post(
            "/api/v1/tickets",
            files={"title": (None, "Nul\x00byte"), "description": (None, "d")},
            headers=customer.headers,
        )
        assert refused_field(response) == "title"
        assert ticket_count(db) == 0

    def test_a_control_character_in_a_list_is_refused(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        body = {"title": "t", "description": "d", "tags": ["fine", "bad\x00"]}
        response = client.post("/api/v1/tickets", json=body, headers=admin.headers)
        assert refused_field(response) == "tags"
        assert ticket_count(db) == 0

    def test_a_reply_and_an_edit_are_refused_and_change_nothing(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        ticket = api_ticket(client, customer)
        reply = client.post(
            f"/api/v1/tickets/{ticket['id']}/replies", json={"message": "a\x00b"}, headers=customer.headers
        )
        edit = client.patch(
            f"/api/v1/tickets/{ticket['id']}", json={"title": "a\x00b"}, headers=customer.headers
        )
        assert refused_field(reply) == "message" and refused_field(edit) == "title"
        after = client.get(f"/api/v1/tickets/{ticket['id']}", headers=customer.headers).json()
        assert after["version"] == ticket["version"]
        assert (
            client.get(f"/api/v1/tickets/{ticket['id']}/replies", headers=customer.headers).json()["data"]
            == []
        )

    def test_tab_and_line_breaks_are_text(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        description = "First line\r\nsecond line\n\tindented"
        created = api_ticket(client, customer, description=description)
        assert created["description"] == description

    def test_a_single_line_field_keeps_one_line(self, client: TestClient, db: Database) -> None:
        """The policy: a title (a VARCHAR column) stores a line break as a space, whoever wrote it."""
        customer = make_customer(db)
        created = api_ticket(client, customer, title="Printer\r\nBcc: everyone\nfire")
        assert created["title"] == "Printer Bcc: everyone fire"


class TestQueryStringsAndPaths:
    @pytest.mark.parametrize(
        "query", ["q=a%00b", "q=a%1Bb", "q=a%0Ab", "q=a%0Db", "department=%00", "tag=x%C2%85"]
    )
    def test_a_control_character_in_a_query_is_a_422(
        self, client: TestClient, db: Database, query: str
    ) -> None:
        """Query strings are single-line: line breaks are refused too."""
        admin = make_admin(db)
        response = client.get(f"/api/v1/tickets?{query}", headers=admin.headers)
        assert refused_field(response) == f"query.{query.partition('=')[0]}"

    def test_a_tab_in_a_search_is_text(self, client: TestClient, db: Database) -> None:
        """Pasted from a spreadsheet into the search box."""
        admin = make_admin(db)
        assert client.get("/api/v1/tickets?q=printer%09fire", headers=admin.headers).status_code == 200

    def test_a_control_character_in_an_export_query_is_a_422(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        response = client.get("/api/v1/tickets/export.csv?department=%00", headers=admin.headers)
        assert refused_field(response) == "query.department"

    def test_a_control_character_in_a_path_is_a_422(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        response = client.delete("/api/v1/tickets/1/tags/x%00y", headers=admin.headers)
        assert refused_field(response) == "path.name"

    def test_a_signed_in_page_refuses_it_too(self, client: TestClient, db: Database) -> None:
        cookie, _ = web_session(db, make_admin(db))
        client.cookies.set("ticketry_session", cookie)
        response = client.get("/desk?q=%00")
        assert response.status_code == 422
        assert "control characters" in response.text


class TestWebForms:
    def _signed_in(self, client: TestClient, db: Database, persona: Persona) -> str:
        cookie, csrf = web_session(db, persona)
        client.cookies.set("ticketry_session", cookie)
        return csrf

    @pytest.mark.parametrize("raw_title", [b"Nul%00byte", b"Escape%1B", b"Raw\x01byte"])
    def test_a_new_ticket_form_is_refused_and_creates_nothing(
        self, client: TestClient, db: Database, raw_title: bytes
    ) -> None:
        csrf = self._signed_in(client, db, make_customer(db))
        response = client.post(
            "/tickets/new",
            content=b"title=" + raw_title + b"&description=d&csrf_token=" + csrf.encode(),
            headers={
                "content-type": "application/x-www-form-urlencoded",
                "referer": "http://testserver/tickets/new",
            },
            follow_redirects=False,
        )
        assert "control%20characters" in flashed(response)
        assert response.headers["location"] == "/tickets/new"
        assert ticket_count(db) == 0

    def test_a_textarea_keeps_its_line_breaks(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        csrf = self._signed_in(client, db, customer)
        ticket = make_ticket(db, customer)
        response = client.post(
            f"/tickets/{ticket.id}/reply",
            data={"body": "Line one\r\n\tLine two", "csrf_token": csrf},
            follow_redirects=False,
        )
        assert response.status_code == 303
        replies = client.get(f"/api/v1/tickets/{ticket.id}/replies", headers=customer.headers).json()["data"]
        assert [reply["body"] for reply in replies] == ["Line one\r\n\tLine two"]


class TestStorageBackstop:
    """Both backends store text alike, whoever writes it (web, API, mail, CLI)."""

    def test_a_nul_is_refused_with_a_422_on_both_backends(self, db: Database) -> None:
        customer = make_customer(db)
        with pytest.raises(ValidationFailed) as refused:
            make_ticket(db, customer, description="Before\x00after")
        assert refused.value.status == 422
        assert refused.value.details["field"] == "tickets.description"
        assert ticket_count(db) == 0

    def test_a_single_line_column_stores_line_breaks_as_spaces(self, db: Database) -> None:
        customer = make_customer(db)
        with db.unit_of_work() as session:
            user = session.get(User, customer.id)
            assert user is not None
            user.name = "Mallory\r\nX-Header: injected\u2028again"
        ticket = make_ticket(db, customer, title="One\ntwo", description="One\ntwo")
        with db.unit_of_work(write=False) as session:
            stored = session.get(User, customer.id)
            assert stored is not None and stored.name == "Mallory X-Header: injected again"
            again = session.get(Ticket, ticket.id)
            assert again is not None and (again.title, again.description) == ("One two", "One\ntwo")
