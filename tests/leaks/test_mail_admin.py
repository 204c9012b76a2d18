"""The mail administration is for admins only: mailboxes (their servers, users and passwords)
and the mail log (every customer's mail, raw) never reach a customer or an agent, through the
API or the pages."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.factories import Persona, make_admin, make_agent, make_customer, web_session
from tests.mail_admin import IMAP_PASSWORD, log_mail, make_mailbox, raw_mail, webhook_secret
from ticketry.core.db import Database
from ticketry.mail.log.models import MailStatus

MAILBOX_WORD = "narwhalmailbox"
SUBJECT_WORD = "axolotlsubject"
BODY_WORD = "pangolinbody"
MARKERS = (MAILBOX_WORD, SUBJECT_WORD, BODY_WORD, IMAP_PASSWORD, "whsec_", "imap.example.com")


def mail_scene(db: Database) -> tuple[int, int]:
    """A mailbox with a password and a webhook secret, and a held mail with a marked body."""
    admin = make_admin(db)
    mailbox_id = make_mailbox(db, admin, name=f"Support {MAILBOX_WORD}")
    webhook_secret(db, admin, mailbox_id)
    mail_id = log_mail(
        db,
        status=MailStatus.SPAM_HELD,
        subject=f"Contract {SUBJECT_WORD}",
        raw=raw_mail(subject=f"Contract {SUBJECT_WORD}", body=f"Terms: {BODY_WORD}"),
        mailbox_id=mailbox_id,
    )
    return mailbox_id, mail_id


def api_paths(mailbox_id: int, mail_id: int) -> list[str]:
    return [
        "/api/v1/mailboxes",
        f"/api/v1/mailboxes/{mailbox_id}",
        "/api/v1/mail/log",
        f"/api/v1/mail/log?q={SUBJECT_WORD}",
        f"/api/v1/mail/log?mailbox_id={mailbox_id}",
        f"/api/v1/mail/log/{mail_id}",
        f"/api/v1/mail/log/{mail_id}/raw",
    ]


def page_paths(mailbox_id: int, mail_id: int) -> list[str]:
    return [
        "/admin/mailboxes",
        f"/admin/mailboxes/{mailbox_id}",
        "/admin/mail",
        f"/admin/mail?q={SUBJECT_WORD}",
        f"/admin/mail/{mail_id}",
    ]


def leaked(text: str) -> list[str]:
    return [marker for marker in MARKERS if marker.lower() in text.lower()]


@pytest.mark.parametrize("maker", [make_customer, make_agent])
class TestNotForCustomersOrAgents:
    def test_every_api_read_path_is_403_and_nothing_else(
        self, client: TestClient, db: Database, maker: type
    ) -> None:
        mailbox_id, mail_id = mail_scene(db)
        someone: Persona = maker(db)
        for path in api_paths(mailbox_id, mail_id):
            response = client.get(path, headers=someone.headers)
            assert response.status_code == 403, (path, response.text)
            assert set(response.json()) == {"error"}, path
            assert leaked(response.text) == [], path

    def test_every_page_is_403_and_shows_nothing(self, client: TestClient, db: Database, maker: type) -> None:
        mailbox_id, mail_id = mail_scene(db)
        cookie, _ = web_session(db, maker(db))
        client.cookies.set("ticketry_session", cookie)
        for path in page_paths(mailbox_id, mail_id):
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 403, path
            assert leaked(response.text) == [], path


class TestAdminsDoSeeIt:
    def test_the_markers_are_on_those_paths(self, client: TestClient, db: Database) -> None:
        """Control: the paths above do carry the mail and the mailbox, so their absence is the
        permission at work. The password and the webhook secret reach nobody."""
        mailbox_id, mail_id = mail_scene(db)
        admin = make_admin(db)
        api = " ".join(client.get(p, headers=admin.headers).text for p in api_paths(mailbox_id, mail_id))
        cookie, _ = web_session(db, admin)
        client.cookies.set("ticketry_session", cookie)
        pages = " ".join(client.get(p).text for p in page_paths(mailbox_id, mail_id))
        for seen in (api, pages):
            assert {MAILBOX_WORD, SUBJECT_WORD, "imap.example.com"} <= set(leaked(seen))
            assert IMAP_PASSWORD not in seen and "whsec_" not in seen
        assert BODY_WORD in api  # the raw download
