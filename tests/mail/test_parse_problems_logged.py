"""What the parser had to cut, ignore or guess is kept with the mail (issue 14 A.8): in its mail
log row, on the admin's page of the mail and in the API's view of it. Fixture:
tests/mail/real_world/problems_unclosed_boundary_bad_base64.eml, a scanner's mail whose last
part never closes, whose PDF is broken base64 and whose text names a charset nobody knows."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from markupsafe import escape

from tests.factories import make_admin
from tests.mail_admin import Browser
from tests.mailserver import MailServer
from ticketry.core.db import Database
from ticketry.mail.log.models import MailStatus
from ticketry.mailparse.parse import parse

from .inbound import mail, mail_settings, make_mailbox

__all__ = ["mail_settings"]

FIXTURE = Path(__file__).parent / "real_world" / "problems_unclosed_boundary_bad_base64.eml"


class TestProblemsAreKept:
    def test_they_are_in_the_log_row_on_the_admin_page_and_in_the_api(
        self, client: TestClient, db: Database, mail_settings: MailServer
    ) -> None:
        raw = FIXTURE.read_bytes()
        problems = list(parse(raw).problems)
        assert problems, "the fixture gives the parser something to say"
        admin = make_admin(db)

        entry = make_mailbox(db).receive(raw)

        assert entry.status is MailStatus.CREATED_TICKET
        assert entry.problems == problems
        page = Browser(client, db, admin).get(f"/admin/mail/{entry.id}")
        assert "Reading problems" in page
        for problem in problems:
            assert f"<li>{escape(problem)}</li>" in page
        one = client.get(f"/api/v1/mail/log/{entry.id}", headers=admin.headers)
        assert one.status_code == 200 and one.json()["problems"] == problems
        listed = client.get("/api/v1/mail/log", headers=admin.headers).json()["data"]
        assert [item["problems"] for item in listed if item["id"] == entry.id] == [problems]

    def test_a_clean_mail_has_none(self, client: TestClient, db: Database, mail_settings: MailServer) -> None:
        admin = make_admin(db)

        entry = make_mailbox(db).receive(mail())

        assert entry.status is MailStatus.CREATED_TICKET and entry.problems == []
        assert "Reading problems" not in Browser(client, db, admin).get(f"/admin/mail/{entry.id}")
        assert client.get(f"/api/v1/mail/log/{entry.id}", headers=admin.headers).json()["problems"] == []

    def test_a_mail_that_is_held_keeps_them_too(self, db: Database, mail_settings: MailServer) -> None:
        raw = FIXTURE.read_bytes().replace(b"MIME-Version: 1.0", b"X-Spam-Flag: YES\r\nMIME-Version: 1.0", 1)

        entry = make_mailbox(db).receive(raw)

        assert entry.status is MailStatus.SPAM_HELD
        assert entry.problems == list(parse(raw).problems) != []
