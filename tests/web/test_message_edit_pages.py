"""Editing messages in the desk and the portal, the earlier-versions page, and admins' delete and
restore buttons (issue 6 part 5)."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.factories import (
    Persona,
    make_admin,
    make_agent,
    make_customer,
    make_message,
    make_ticket,
)
from tests.form_browser import FormBrowser

from ticketry.core.db import Database
from ticketry.messages.models import Message, MessageRevision

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


Browser = FormBrowser


def flash(page: str) -> str:
    match = re.search(r'<p class="flash flash-(\w+)"[^>]*>(.*?)</p>', page, re.S)
    assert match, "no flash message on the page"
    return f"{match.group(1)}: {html.unescape(match.group(2))}"


def article(page: str, message_id: int) -> str:
    """The <article> of one message on a thread page."""
    for match in re.finditer(r"<article class=\"message[^\"]*\".*?</article>", page, re.S):
        if f"/messages/{message_id}/" in match.group(0) or f'id="m{message_id}"' in match.group(0):
            return match.group(0)
    raise AssertionError(f"message {message_id} is not on the page")


def revision_count(db: Database, message_id: int) -> int:
    with db.unit_of_work(write=False) as session:
        query = (
            select(func.count()).select_from(MessageRevision).where(MessageRevision.message_id == message_id)
        )
        return int(session.scalar(query) or 0)


@pytest.fixture
def cast(db: Database) -> dict[str, Persona]:
    return {
        "customer": make_customer(db),
        "agent": make_agent(db),
        "other_agent": make_agent(db),
        "admin": make_admin(db),
    }


class TestDeskEdit:
    def test_author_sees_the_edit_form_and_saves(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket = make_ticket(db, cast["customer"])
        message = make_message(db, cast["agent"], ticket.id, body="Please restart it.")
        browser = Browser(client, cast["agent"])
        page = browser.get(f"/desk/tickets/{ticket.id}")
        mine = article(page, message.id)
        assert f'action="/desk/tickets/{ticket.id}/messages/{message.id}/edit"' in mine
        assert f'<label for="edit-{message.id}">' in mine
        assert "Please restart it.</textarea>" in mine
        assert ">edited</a>" not in mine

        location, landed = browser.post(
            f"/desk/tickets/{ticket.id}/messages/{message.id}/edit",
            {"body": "Please restart it twice."},
            back=f"/desk/tickets/{ticket.id}",
        )

        assert location == f"/desk/tickets/{ticket.id}#m{message.id}"
        assert flash(landed) == "success: Message saved."
        edited = article(landed, message.id)
        assert "Please restart it twice." in edited
        assert f'href="/desk/tickets/{ticket.id}/messages/{message.id}/revisions"' in edited
        assert ">edited</a>" in edited
        assert "edited message #" in landed  # the history line
        assert revision_count(db, message.id) == 1

    def test_other_agent_gets_no_form_and_a_refusal(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket = make_ticket(db, cast["customer"])
        message = make_message(db, cast["agent"], ticket.id, body="Mine.")
        browser = Browser(client, cast["other_agent"])
        page = browser.get(f"/desk/tickets/{ticket.id}")
        assert "/edit" not in article(page, message.id)
        assert "/delete" not in article(page, message.id)

        _, landed = browser.post(
            f"/desk/tickets/{ticket.id}/messages/{message.id}/edit",
            {"body": "Not mine."},
            back=f"/desk/tickets/{ticket.id}",
        )
        assert flash(landed).startswith("error: You can only edit your own messages")
        assert revision_count(db, message.id) == 0

    def test_admin_edits_deletes_and_restores(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket = make_ticket(db, cast["customer"])
        message = make_message(db, cast["agent"], ticket.id, body="Wrong answer.")
        browser = Browser(client, cast["admin"])
        page = browser.get(f"/desk/tickets/{ticket.id}")
        actions = article(page, message.id)
        assert f"/messages/{message.id}/edit" in actions
        assert f"/messages/{message.id}/delete" in actions

        _, landed = browser.post(f"/desk/tickets/{ticket.id}/messages/{message.id}/delete", {})
        assert flash(landed).startswith("success: Message deleted.")
        shown = article(landed, message.id)
        assert shown.startswith('<article class="message staff deleted"')
        assert "Deleted</span>" in shown
        assert f"/messages/{message.id}/restore" in shown
        assert f"/messages/{message.id}/edit" not in shown

        _, landed = browser.post(f"/desk/tickets/{ticket.id}/messages/{message.id}/restore", {})
        assert flash(landed) == "success: Message restored."
        assert "Deleted</span>" not in article(landed, message.id)

    def test_agent_does_not_see_deleted_messages(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket = make_ticket(db, cast["customer"])
        message = make_message(db, cast["agent"], ticket.id, body="gone soon, dingoword")
        Browser(client, cast["admin"]).post(f"/desk/tickets/{ticket.id}/messages/{message.id}/delete", {})
        page = Browser(client, cast["agent"]).get(f"/desk/tickets/{ticket.id}")
        assert "dingoword" not in page

    def test_revisions_page_lists_every_text(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket = make_ticket(db, cast["customer"])
        message = make_message(db, cast["agent"], ticket.id, body="first text")
        browser = Browser(client, cast["agent"])
        for text in ("second text", "third text"):
            browser.post(f"/desk/tickets/{ticket.id}/messages/{message.id}/edit", {"body": text})

        page = browser.get(f"/desk/tickets/{ticket.id}/messages/{message.id}/revisions")

        assert "2 earlier versions, newest first." in page
        assert page.index("third text") < page.index("second text") < page.index("first text")
        assert "Current version" in page
        assert f'href="/desk/tickets/{ticket.id}#m{message.id}"' in page


class TestPortal:
    def test_customer_edits_own_message_and_sees_the_marker(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket = make_ticket(db, cast["customer"])
        own = make_message(db, cast["customer"], ticket.id, body="Model X100.")
        staff = make_message(db, cast["agent"], ticket.id, body="Which model?")
        browser = Browser(client, cast["customer"])
        page = browser.get(f"/tickets/{ticket.id}")
        assert f"/tickets/{ticket.id}/messages/{own.id}/edit" in article(page, own.id)
        assert "/edit" not in article(page, staff.id)
        assert "/delete" not in page

        location, landed = browser.post(
            f"/tickets/{ticket.id}/messages/{own.id}/edit",
            {"body": "Model X200."},
            back=f"/tickets/{ticket.id}",
        )
        assert location == f"/tickets/{ticket.id}#m{own.id}"
        assert f'href="/tickets/{ticket.id}/messages/{own.id}/revisions"' in article(landed, own.id)

        revisions = browser.get(f"/tickets/{ticket.id}/messages/{own.id}/revisions")
        assert "Model X100." in revisions and "Model X200." in revisions

    def test_staff_edit_of_a_public_reply_shows_edited_to_the_customer(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket = make_ticket(db, cast["customer"])
        staff = make_message(db, cast["agent"], ticket.id, body="Refund in 5 days.")
        Browser(client, cast["agent"]).post(
            f"/desk/tickets/{ticket.id}/messages/{staff.id}/edit", {"body": "Refund in 3 days."}
        )
        browser = Browser(client, cast["customer"])
        shown = article(browser.get(f"/tickets/{ticket.id}"), staff.id)
        assert ">edited</a>" in shown and "Refund in 3 days." in shown
        revisions = browser.get(f"/tickets/{ticket.id}/messages/{staff.id}/revisions")
        assert "Refund in 5 days." in revisions

    def test_no_edit_form_on_a_closed_ticket(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        from tests.factories import set_status

        ticket = make_ticket(db, cast["customer"])
        own = make_message(db, cast["customer"], ticket.id, body="Thanks.")
        set_status(db, cast["admin"], ticket.id, "closed")
        page = Browser(client, cast["customer"]).get(f"/tickets/{ticket.id}")
        assert "/edit" not in article(page, own.id)

    def test_customer_on_the_desk_revisions_url_is_sent_to_the_portal(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket = make_ticket(db, cast["customer"])
        own = make_message(db, cast["customer"], ticket.id, body="Hi.")
        browser = Browser(client, cast["customer"])
        browser.get(f"/desk/tickets/{ticket.id}/messages/{own.id}/revisions", status=303)

    def test_message_row_is_unchanged_by_a_refused_edit(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket = make_ticket(db, cast["customer"])
        staff = make_message(db, cast["agent"], ticket.id, body="Official answer.")
        Browser(client, cast["customer"]).post(
            f"/tickets/{ticket.id}/messages/{staff.id}/edit",
            {"body": "Forged answer."},
            back=f"/tickets/{ticket.id}",
        )
        with db.unit_of_work(write=False) as session:
            row = session.get(Message, staff.id)
            assert row is not None and row.body == "Official answer."
