"""Mail that arrives is shown through the same read paths as everything else: an agent's mail
reply is an internal note, and neither its new text nor its whole mail (quoted history, HTML)
ever reaches the customer, on any page, in the API, or in a notification."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import web_session
from tests.leaks.scene import PUBLIC_WORD, markers_in, worked_ticket
from tests.mail.inbound import mail, mail_settings, make_mailbox, run_jobs
from tests.mailserver import MailServer, mailserver
from ticketry.core.config import get_settings
from ticketry.core.db import Database
from ticketry.mail.outbound import ids
from ticketry.mail.outbound.models import MailStatus

__all__ = ["mail_settings", "mailserver"]

MAIL_NOTE_WORD = "dingomailnote"
QUOTED_WORD = "bilbyquoted"


def agent_mails_a_note(db: Database, ticket_id: int, agent_email: str) -> None:
    reference = ids.message_id(get_settings().secret_key, "help.example.com", ticket_id=ticket_id)
    entry = make_mailbox(db).receive(
        mail(
            sender=agent_email,
            body=f"Internal: {MAIL_NOTE_WORD} do not refund.\n\nOn Monday someone wrote:\n> {QUOTED_WORD}",
            html=f"<p>Internal: {MAIL_NOTE_WORD}</p><blockquote>{QUOTED_WORD}</blockquote>",
            in_reply_to=reference,
        )
    )
    assert entry.status is MailStatus.APPENDED


def leaked(text: str) -> list[str]:
    lowered = text.lower()
    return markers_in(text) + [word for word in (MAIL_NOTE_WORD, QUOTED_WORD) if word in lowered]


class TestAgentMailIsANote:
    def test_the_portal_page_shows_nothing_of_it(
        self, client: TestClient, db: Database, mail_settings: MailServer
    ) -> None:
        scene = worked_ticket(client, db)
        agent_mails_a_note(db, scene.ticket_id, scene.agent.email)
        cookie, _ = web_session(db, scene.customer)
        client.cookies.set("ticketry_session", cookie)
        page = client.get(f"/tickets/{scene.ticket_id}", follow_redirects=False)
        assert page.status_code == 200 and PUBLIC_WORD in page.text
        assert leaked(page.text) == []

    def test_the_api_shows_nothing_of_it(
        self, client: TestClient, db: Database, mail_settings: MailServer
    ) -> None:
        scene = worked_ticket(client, db)
        agent_mails_a_note(db, scene.ticket_id, scene.agent.email)
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
        agent_mails_a_note(db, scene.ticket_id, scene.agent.email)
        run_jobs(db)
        for received in mail_settings.to(scene.customer.email):
            assert leaked(received.raw.decode("utf-8", "replace")) == []

    def test_control_the_desk_shows_the_whole_mail(
        self, client: TestClient, db: Database, mail_settings: MailServer
    ) -> None:
        scene = worked_ticket(client, db)
        agent_mails_a_note(db, scene.ticket_id, scene.agent.email)
        cookie, _ = web_session(db, scene.agent)
        client.cookies.set("ticketry_session", cookie)
        page = client.get(f"/desk/tickets/{scene.ticket_id}", follow_redirects=False)
        assert MAIL_NOTE_WORD in page.text and QUOTED_WORD in page.text
