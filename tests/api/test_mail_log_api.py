"""`/api/v1/mail/log` (issue 5 part 7): every mail sent and received, filtered and searched by
admins; the raw mail as a download; held, refused or failed mail processed again."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.factories import make_admin, make_agent, make_customer, make_ticket
from tests.mail_admin import log_mail, mail_entry, make_mailbox, queued_jobs, raw_mail

from ticketry.core.db import Database
from ticketry.mail.log.models import Direction, MailStatus

URL = "/api/v1/mail/log"


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [entry["id"] for entry in response.json()["data"]]


class TestListMail:
    def test_newest_first_in_the_envelope_with_pages(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        entries = [log_mail(db, subject=f"Mail {n}") for n in range(5)]

        first = client.get(URL, params={"page_size": 2}, headers=admin.headers)
        third = client.get(URL, params={"page_size": 2, "page": 3}, headers=admin.headers)

        assert ids(first) == entries[:-3:-1]
        assert first.json()["pagination"] == {
            "total": 5,
            "page": 1,
            "pageSize": 2,
            "totalPages": 3,
            "totalCapped": False,
        }
        assert ids(third) == [entries[0]]

    def test_items_carry_the_log_fields_and_no_mail_content(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        ticket = make_ticket(db, make_customer(db))
        mailbox_id = make_mailbox(db, admin)
        entry_id = log_mail(
            db,
            mailbox_id=mailbox_id,
            ticket_id=ticket.id,
            reason="New ticket.",
            raw=raw_mail(body="zebrabodyword"),
        )
        response = client.get(URL, headers=admin.headers)
        [item] = response.json()["data"]
        assert item["id"] == entry_id
        assert (item["direction"], item["status"], item["purpose"]) == (
            "inbound",
            "created_ticket",
            "webhook",
        )
        assert (item["mailboxId"], item["ticketId"], item["reason"]) == (mailbox_id, ticket.id, "New ticket.")
        assert {
            "sender",
            "recipients",
            "subject",
            "messageIdHeader",
            "attempts",
            "createdAt",
            "messageId",
        } <= set(item)
        assert "raw" not in item
        assert "zebrabodyword" not in response.text

    def test_filters_by_direction_status_and_mailbox(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        first, second = make_mailbox(db, admin), make_mailbox(db, admin)
        held = log_mail(db, status=MailStatus.SPAM_HELD, mailbox_id=first)
        created = log_mail(db, status=MailStatus.CREATED_TICKET, mailbox_id=second)
        sent = log_mail(db, direction=Direction.OUTBOUND, status=MailStatus.SENT, purpose="staff_reply")

        def found(**params: Any) -> list[int]:
            return ids(client.get(URL, params=params, headers=admin.headers))

        assert found(direction="outbound") == [sent]
        assert found(direction="inbound") == [created, held]
        assert found(status="spam_held") == [held]
        assert found(mailbox_id=second) == [created]
        assert found(direction="inbound", mailbox_id=first, status="created_ticket") == []

    def test_search_in_sender_recipients_subject_and_message_id(
        self, client: TestClient, db: Database
    ) -> None:
        admin = make_admin(db)
        by_sender = log_mail(db, sender="dora@explorer.example")
        by_subject = log_mail(db, subject="Invoice 100% overdue")
        by_id = log_mail(db, message_id_header="<unique-4711@mta.example>")
        by_recipient = log_mail(
            db, direction=Direction.OUTBOUND, status=MailStatus.SENT, recipients="erin@rcpt.example"
        )

        def found(q: str) -> list[int]:
            return ids(client.get(URL, params={"q": q}, headers=admin.headers))

        assert found("EXPLORER") == [by_sender]
        assert found("100%") == [by_subject]
        assert found("unique-4711") == [by_id]
        assert found("erin@") == [by_recipient]
        assert found("_") == []  # a literal underscore, not a wildcard
        assert found("nothing-like-this") == []

    def test_bad_filters_are_422(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        for params in ({"status": "lost"}, {"direction": "sideways"}, {"mailbox_id": 0}, {"q": "x" * 201}):
            assert client.get(URL, params=params, headers=admin.headers).status_code == 422, params


class TestGetMail:
    def test_one_entry_with_every_field_and_no_raw_bytes(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        ticket = make_ticket(db, make_customer(db))
        mailbox_id = make_mailbox(db, admin)
        entry_id = log_mail(
            db,
            status=MailStatus.SPAM_HELD,
            reason="X-Spam-Flag: YES.",
            mailbox_id=mailbox_id,
            ticket_id=ticket.id,
            raw=raw_mail(body="zebrabodyword"),
        )

        response = client.get(f"{URL}/{entry_id}", headers=admin.headers)

        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["reason"], body["ticketId"], body["mailboxId"]) == (
            "X-Spam-Flag: YES.",
            ticket.id,
            mailbox_id,
        )
        assert (body["messageId"], body["attempts"], body["purpose"]) == (None, 0, "webhook")
        assert (body["hasRaw"], body["reprocessable"]) == (True, True)
        assert "raw" not in body
        assert "zebrabodyword" not in response.text

    def test_unknown_entry_is_404(self, client: TestClient, db: Database) -> None:
        response = client.get(f"{URL}/99999", headers=make_admin(db).headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "mail_not_found"


class TestRawMail:
    def test_the_eml_download(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        raw = raw_mail(body="<script>alert(1)</script>")
        entry_id = log_mail(db, raw=raw)

        response = client.get(f"{URL}/{entry_id}/raw", headers=admin.headers)

        assert response.status_code == 200
        assert response.content == raw
        assert response.headers["content-type"] == "message/rfc822"
        assert response.headers["content-disposition"] == f'attachment; filename="mail-{entry_id}.eml"'
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in response.headers["content-security-policy"]

    def test_mail_whose_content_is_not_kept_is_404(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        entry_id = log_mail(
            db, direction=Direction.OUTBOUND, status=MailStatus.SENT, purpose="password_reset", raw=None
        )
        response = client.get(f"{URL}/{entry_id}/raw", headers=admin.headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "mail_not_found"
        assert client.get(f"{URL}/{entry_id}", headers=admin.headers).json()["hasRaw"] is False


class TestReprocess:
    @pytest.mark.parametrize(
        ("status", "release", "vouch"),
        [
            (MailStatus.SPAM_HELD, True, False),
            (MailStatus.REJECTED, True, False),
            (MailStatus.HELD, True, True),
            (MailStatus.FAILED, False, False),
            (MailStatus.RECEIVED, False, False),
        ],
    )
    def test_held_refused_or_failed_mail_is_queued_again(
        self, client: TestClient, db: Database, status: MailStatus, release: bool, vouch: bool
    ) -> None:
        """Released spam or refusals skip the classification only; mail held for want of proof of
        its sender (`held`) is vouched for by the admin (issue 12)."""
        admin = make_admin(db)
        entry_id = log_mail(db, status=status, reason="Held.")

        response = client.post(f"{URL}/{entry_id}/reprocess", headers=admin.headers)

        assert response.status_code == 202, response.text
        assert (response.json()["status"], response.json()["reason"]) == (
            "received",
            "Queued again by an admin.",
        )
        assert queued_jobs(db, "mail.ingest") == [
            {"mail_log_id": entry_id, "release": release, "vouch": vouch}
        ]

    def test_failed_outbound_mail_is_sent_again(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        entry_id = log_mail(db, direction=Direction.OUTBOUND, status=MailStatus.FAILED, purpose="staff_reply")
        response = client.post(f"{URL}/{entry_id}/reprocess", headers=admin.headers)
        assert response.status_code == 202, response.text
        assert (response.json()["status"], response.json()["attempts"]) == ("queued", 0)
        assert [job["mail_log_id"] for job in queued_jobs(db, "mail.send")] == [entry_id]

    @pytest.mark.parametrize(
        ("direction", "status", "raw"),
        [
            (Direction.INBOUND, MailStatus.CREATED_TICKET, b""),
            (Direction.INBOUND, MailStatus.DUPLICATE, b""),
            (Direction.INBOUND, MailStatus.REJECTED, None),
            (Direction.OUTBOUND, MailStatus.SENT, b""),
        ],
    )
    def test_other_mail_is_409_and_unchanged(
        self, client: TestClient, db: Database, direction: Direction, status: MailStatus, raw: bytes | None
    ) -> None:
        admin = make_admin(db)
        entry_id = log_mail(db, direction=direction, status=status, raw=raw)
        assert client.get(f"{URL}/{entry_id}", headers=admin.headers).json()["reprocessable"] is False

        response = client.post(f"{URL}/{entry_id}/reprocess", headers=admin.headers)

        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "mail_not_reprocessable"
        entry = mail_entry(db, entry_id)
        assert entry is not None
        assert entry.status is status
        assert queued_jobs(db, "mail.ingest") == []


class TestOnlyAdmins:
    @pytest.mark.parametrize("maker", [make_agent, make_customer])
    def test_agents_and_customers_get_403(self, client: TestClient, db: Database, maker: Any) -> None:
        someone = maker(db)
        entry_id = log_mail(db, status=MailStatus.SPAM_HELD)
        calls = [
            client.get(URL, headers=someone.headers),
            client.get(f"{URL}/{entry_id}", headers=someone.headers),
            client.get(f"{URL}/{entry_id}/raw", headers=someone.headers),
            client.post(f"{URL}/{entry_id}/reprocess", headers=someone.headers),
        ]
        assert [c.status_code for c in calls] == [403] * 4
        entry = mail_entry(db, entry_id)
        assert entry is not None
        assert entry.status is MailStatus.SPAM_HELD
