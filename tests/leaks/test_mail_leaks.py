"""Mail that arrives is shown through the same read paths as everything else: an agent's mail
reply is an internal note, and mail held for review (a stranger's, issue 12) is staff-only; neither
its new text nor its whole mail (quoted history, HTML, files) ever reaches the customer, on any
page, in the API, in search, or in a notification."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.factories import Persona, web_session
from tests.leaks.scene import PUBLIC_WORD, markers_in, worked_ticket
from tests.mail.inbound import mail, mail_settings, make_mailbox, run_jobs
from tests.mailserver import MailServer, mailserver
from ticketry.core.config import get_settings
from ticketry.core.db import Database
from ticketry.mail.log.models import MailStatus
from ticketry.mail.outbound import ids

__all__ = ["mail_settings", "mailserver"]

MAIL_NOTE_WORD = "dingomailnote"
QUOTED_WORD = "bilbyquoted"


OUR_MX = "mx.help.example.com"


@pytest.fixture(autouse=True)
def trusted(monkeypatch: pytest.MonkeyPatch, mail_settings: MailServer) -> Iterator[None]:
    """Our MX vouches for mail: staff may write notes by mail (docs/product.md §4)."""
    monkeypatch.setenv("TICKETRY_MAIL_TRUSTED_AUTHSERV_IDS", OUR_MX)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def agent_mails_a_note(db: Database, ticket_id: int, agent: Persona) -> None:
    """An agent answers a notification from their own mailbox: their own reply address, and our MX
    says the mail really comes from their domain."""
    settings = get_settings()
    entry = make_mailbox(db).receive(
        mail(
            sender=agent.email,
            to=ids.reply_address(
                settings.secret_key, settings.mail_from, ticket_id=ticket_id, user_id=agent.id
            ),
            body=f"Internal: {MAIL_NOTE_WORD} do not refund.\n\nOn Monday someone wrote:\n> {QUOTED_WORD}",
            html=f"<p>Internal: {MAIL_NOTE_WORD}</p><blockquote>{QUOTED_WORD}</blockquote>",
            headers={"Authentication-Results": f"{OUR_MX}; dmarc=pass header.from=example.test"},
        )
    )
    assert entry.status is MailStatus.APPENDED, entry.reason


def stranger_writes(db: Database, ticket_id: int) -> None:
    """Someone who is not on the ticket writes to its reply address, with a file: held for staff."""
    settings = get_settings()
    entry = make_mailbox(db).receive(
        mail(
            sender="Service <accounts@service.example>",
            to=ids.reply_address(settings.secret_key, settings.mail_from, ticket_id=ticket_id),
            subject="Your code",
            body=f"Code {MAIL_NOTE_WORD}.\n\n> {QUOTED_WORD}",
            html=f"<p>Code {MAIL_NOTE_WORD}</p><blockquote>{QUOTED_WORD}</blockquote>",
            attachments=[("dingomailnote-code.txt", "text/plain", f"{MAIL_NOTE_WORD}\n".encode())],
        )
    )
    assert entry.status is MailStatus.APPENDED and "Held" in entry.reason, entry.reason


def leaked(text: str) -> list[str]:
    lowered = text.lower()
    return markers_in(text) + [word for word in (MAIL_NOTE_WORD, QUOTED_WORD) if word in lowered]


class TestAgentMailIsANote:
    def test_the_portal_page_shows_nothing_of_it(
        self, client: TestClient, db: Database, mail_settings: MailServer
    ) -> None:
        scene = worked_ticket(client, db)
        agent_mails_a_note(db, scene.ticket_id, scene.agent)
        cookie, _ = web_session(db, scene.customer)
        client.cookies.set("ticketry_session", cookie)
        page = client.get(f"/tickets/{scene.ticket_id}", follow_redirects=False)
        assert page.status_code == 200 and PUBLIC_WORD in page.text
        assert leaked(page.text) == []

    def test_the_api_shows_nothing_of_it(
        self, client: TestClient, db: Database, mail_settings: MailServer
    ) -> None:
        scene = worked_ticket(client, db)
        agent_mails_a_note(db, scene.ticket_id, scene.agent)
        for path in (f"/api/v1/tickets/{scene.ticket_id}", f"/api/v1/tickets/{scene.ticket_id}/replies"):
            response = client.get(path, headers=scene.customer.headers)
            assert response.status_code == 200
            assert leaked(response.text) == []

    def test_no_mail_to_the_customer_carries_it(
        self, client: TestClient, db: Database, mail_settings: MailServer
    ) -> None:
        scene = worked_ticket(client, db)
        run_jobs(db)
        mail_settings.messages.clear()
        agent_mails_a_note(db, scene.ticket_id, scene.agent)
        run_jobs(db)
        for received in mail_settings.to(scene.customer.email):
            assert leaked(received.raw.decode("utf-8", "replace")) == []

    def test_control_the_desk_shows_the_whole_mail(
        self, client: TestClient, db: Database, mail_settings: MailServer
    ) -> None:
        scene = worked_ticket(client, db)
        agent_mails_a_note(db, scene.ticket_id, scene.agent)
        cookie, _ = web_session(db, scene.agent)
        client.cookies.set("ticketry_session", cookie)
        page = client.get(f"/desk/tickets/{scene.ticket_id}", follow_redirects=False)
        assert MAIL_NOTE_WORD in page.text and QUOTED_WORD in page.text


class TestHeldMailIsStaffOnly:
    def test_no_customer_read_path_shows_it(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)
        stranger_writes(db, scene.ticket_id)
        ticket = f"/api/v1/tickets/{scene.ticket_id}"
        for path in (
            ticket,
            f"{ticket}/replies",
            f"{ticket}/history",
            f"{ticket}/attachments",
            f"/api/v1/tickets?q={MAIL_NOTE_WORD}",
            "/api/v1/tickets",
        ):
            response = client.get(path, headers=scene.customer.headers)
            assert response.status_code == 200, (path, response.text)
            assert leaked(response.text) == [], path
        cookie, _ = web_session(db, scene.customer)
        client.cookies.set("ticketry_session", cookie)
        page = client.get(f"/tickets/{scene.ticket_id}", follow_redirects=False)
        assert page.status_code == 200 and PUBLIC_WORD in page.text
        assert leaked(page.text) == []

    def test_no_mail_to_the_customer_carries_it(
        self, client: TestClient, db: Database, mail_settings: MailServer
    ) -> None:
        scene = worked_ticket(client, db)
        run_jobs(db)
        mail_settings.messages.clear()
        stranger_writes(db, scene.ticket_id)
        run_jobs(db)
        for received in mail_settings.to(scene.customer.email):
            assert leaked(received.raw.decode("utf-8", "replace")) == []

    def test_control_staff_see_it_with_its_file_and_the_accept_button(
        self, client: TestClient, db: Database
    ) -> None:
        scene = worked_ticket(client, db)
        stranger_writes(db, scene.ticket_id)
        cookie, _ = web_session(db, scene.agent)
        client.cookies.set("ticketry_session", cookie)
        page = client.get(f"/desk/tickets/{scene.ticket_id}", follow_redirects=False)
        assert MAIL_NOTE_WORD in page.text and "dingomailnote-code.txt" in page.text
        assert "Accept into the conversation" in page.text
        found = client.get(f"/api/v1/tickets?q={MAIL_NOTE_WORD}", headers=scene.agent.headers).json()
        assert [t["id"] for t in found["data"]] == [scene.ticket_id]

    def test_the_customer_cannot_read_who_takes_part(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)
        added = client.post(
            f"/api/v1/tickets/{scene.ticket_id}/participants",
            json={"email": "dingomailnote@partner.example"},
            headers=scene.agent.headers,
        )
        assert added.status_code == 201, added.text
        response = client.get(
            f"/api/v1/tickets/{scene.ticket_id}/participants", headers=scene.customer.headers
        )
        assert response.status_code == 403 and leaked(response.text) == []
