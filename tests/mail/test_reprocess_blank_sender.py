"""No user without an address (issue 14 A.1). An admin's "process again" on a mail refused for
having no usable sender released it past that check: it made a customer with an empty address
and gave it a ticket, and the next such mail joined the same blank customer, whoever wrote it.

Now: the admin is told the mail cannot become a ticket and it stays as it was; a release that
reaches ingestion anyway (a job queued before the fix, a race) is refused there; the users
service refuses any address that is not one, whoever asks; and migration 0015 repairs the blank
customer an older database may hold."""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text

from tests.db.conftest import empty_url
from tests.factories import make_admin
from tests.mail_admin import Browser, flash, queued_jobs
from tests.mailserver import MailServer
from ticketry.core.db import Database, make_engine
from ticketry.mail.inbound import ingest, receive
from ticketry.mail.inbound import service as mail_service
from ticketry.mail.log.models import MailLog, MailStatus
from ticketry.migrations import upgrade
from ticketry.tickets.models import Ticket
from ticketry.users import service as users
from ticketry.users.errors import InvalidEmail
from ticketry.users.models import Role, User

from .inbound import log_entry, mail, mail_settings, make_mailbox, run_jobs

__all__ = ["empty_url", "mail_settings"]


def senderless(subject: str, *, from_header: str | None = "Office Scanner", **headers: str) -> bytes:
    """A mail that names nobody who could have written it: a From with a name and no address
    (a scanner's), or no From at all."""
    message = EmailMessage(policy=SMTP)
    if from_header is not None:
        message["From"] = from_header
    message["To"] = "support@help.example.com"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="scanner.customer.example")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(f"{subject}: 3 pages scanned.")
    return message.as_bytes()


def emails(db: Database) -> list[str]:
    """Every user's address, oldest first."""
    with db.unit_of_work(write=False) as session:
        return list(session.scalars(select(User.email).order_by(User.id)))


def tickets(db: Database) -> list[Ticket]:
    with db.unit_of_work(write=False) as session:
        return list(session.scalars(select(Ticket).order_by(Ticket.id)))


def release(db: Database, entry_id: int) -> None:
    """What an admin's release queued before the fix, straight to the ingestion job."""
    with db.unit_of_work() as session:
        entry = session.get(MailLog, entry_id)
        assert entry is not None
        receive.requeue(session, entry, release=True)
    run_jobs(db)


class TestProcessAgainInTheAdmin:
    def test_the_admin_is_told_and_the_mail_stays_rejected(
        self, client: TestClient, db: Database, mail_settings: MailServer
    ) -> None:
        browser = Browser(client, db, make_admin(db))
        inbox = make_mailbox(db)
        entry = inbox.receive(senderless("Scan 1"))
        assert entry.status is MailStatus.REJECTED and "no usable From address" in entry.reason
        people = emails(db)

        page = browser.get(f"/admin/mail/{entry.id}")
        assert f'action="/admin/mail/{entry.id}/reprocess"' not in page
        assert "This mail has no usable sender address (From)" in page
        done = browser.post(f"/admin/mail/{entry.id}/reprocess", back=f"/admin/mail/{entry.id}")

        assert flash(done) == f"error: {mail_service.NO_SENDER}"
        run_jobs(db)
        after = log_entry(db, entry.id)
        assert (after.status, after.reason) == (MailStatus.REJECTED, entry.reason)
        assert not any(job.get("release") for job in queued_jobs(db, "mail.ingest"))
        assert tickets(db) == [] and emails(db) == people

    def test_two_senderless_mails_never_become_one_customer(
        self, client: TestClient, db: Database, mail_settings: MailServer
    ) -> None:
        inbox = make_mailbox(db)
        first = inbox.receive(senderless("Scan 1"))
        second = inbox.receive(senderless("Scan 2", from_header=None, Precedence="bulk"))
        assert (first.status, second.status) == (MailStatus.REJECTED, MailStatus.AUTO_REPLY)
        admin = make_admin(db)

        for entry in (first, second):
            response = client.post(f"/api/v1/mail/log/{entry.id}/reprocess", headers=admin.headers)
            assert response.status_code == 409, response.text
            assert response.json()["error"]["message"] == mail_service.NO_SENDER
            shown = client.get(f"/api/v1/mail/log/{entry.id}", headers=admin.headers).json()
            assert shown["reprocessable"] is False
        run_jobs(db)

        assert tickets(db) == [] and all(emails(db))

    def test_a_mail_with_a_sender_is_still_processed_again(
        self, client: TestClient, db: Database, mail_settings: MailServer
    ) -> None:
        inbox = make_mailbox(db)
        entry = inbox.receive(mail(headers={"X-Spam-Flag": "YES"}))
        assert entry.status is MailStatus.SPAM_HELD
        browser = Browser(client, db, make_admin(db))

        done = browser.post(f"/admin/mail/{entry.id}/reprocess", back=f"/admin/mail/{entry.id}")
        run_jobs(db)

        assert flash(done) == "success: The mail was queued to be processed again."
        assert log_entry(db, entry.id).status is MailStatus.CREATED_TICKET


class TestIngestion:
    def test_a_release_that_reaches_ingestion_is_refused_there(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        inbox = make_mailbox(db)
        entry = inbox.receive(senderless("Scan 1"))
        people = emails(db)

        release(db, entry.id)

        after = log_entry(db, entry.id)
        assert (after.status, after.reason) == (MailStatus.REJECTED, ingest.NO_SENDER)
        assert after.user_id is None and after.ticket_id is None
        assert tickets(db) == [] and emails(db) == people

    def test_the_blank_customer_of_an_older_database_gets_no_more_mail(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        with db.unit_of_work() as session:  # as the release left it before the fix
            session.add(User(email="", name="Office Scanner", role=Role.CUSTOMER))
        inbox = make_mailbox(db)
        entries = [inbox.receive(senderless(f"Scan {n}")) for n in (1, 2)]

        for entry in entries:
            release(db, entry.id)

        assert [log_entry(db, e.id).status for e in entries] == [MailStatus.REJECTED] * 2
        assert tickets(db) == []

    def test_a_sender_address_no_user_can_have_is_refused_not_retried(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        long_address = "a" * 250 + "@customer.example"  # past the 254 characters of an address
        inbox = make_mailbox(db)

        entry = inbox.receive(mail(sender=f"Long <{long_address}>"))

        assert (entry.status, entry.reason) == (MailStatus.REJECTED, ingest.NO_SENDER)
        assert tickets(db) == [] and "a" * 250 not in " ".join(emails(db))


class TestUsersService:
    @pytest.mark.parametrize(
        "email",
        [
            "",
            "   ",
            "carla",
            "carla@",
            "@customer.example",
            "carla x@customer.example",
            "<carla@x.example>",
            "carla,bob@x.example",
            "car\x01la@x.example",
            "a" * 250 + "@x.example",
        ],
    )
    def test_an_address_that_is_none_is_refused(self, db: Database, email: str) -> None:
        before = emails(db)
        with db.unit_of_work() as session, pytest.raises(InvalidEmail) as refused:
            users.create_user(session, email=email, name="Nobody", role=Role.CUSTOMER)
        assert refused.value.status == 422 and refused.value.code == "invalid_email"
        assert "valid e-mail address" in refused.value.message
        assert emails(db) == before

    @pytest.mark.parametrize("email", ["carla@customer.example", " Carla+Tickets@Mail.Customer.Example "])
    def test_a_real_address_is_taken(self, db: Database, email: str) -> None:
        with db.unit_of_work() as session:
            user = users.create_user(session, email=email, name="Carla", role=Role.CUSTOMER)
        assert user.email == email.strip().lower()

    def test_the_admin_user_form_names_the_problem(self, client: TestClient, db: Database) -> None:
        browser = Browser(client, db, make_admin(db))
        before = emails(db)

        page = browser.post(
            "/admin/users", {"email": "carla<x@customer.example", "name": "Carla"}, back="/admin/users/new"
        )

        assert flash(page).startswith("error: A user needs a valid e-mail address")
        assert emails(db) == before


class TestMigration:
    def test_0015_gives_the_blank_customer_an_address_nobody_has(self, empty_url: str) -> None:
        upgrade(empty_url, "0014")
        engine = make_engine(empty_url, pool_size=1)
        try:
            with engine.begin() as connection:
                for email, name in (("", ""), ("carla@customer.example", "Carla")):
                    connection.execute(
                        text(
                            "INSERT INTO users (email, name, role, is_active, created_at, updated_at,"
                            " email_undeliverable_reason) VALUES (:email, :name, 'customer', :active,"
                            " :stamp, :stamp, '')"
                        ),
                        {"email": email, "name": name, "active": True, "stamp": "2024-05-01 10:00:00"},
                    )
            upgrade(empty_url)
            with engine.connect() as connection:
                rows = connection.execute(
                    text("SELECT id, email, name, is_active, email_undeliverable_at FROM users ORDER BY id")
                ).all()
        finally:
            engine.dispose()
        repaired, untouched = rows
        assert repaired.email == f"unknown-sender-{repaired.id}@invalid"
        assert users.is_valid_email(repaired.email)
        assert repaired.name == "Unknown sender" and not repaired.is_active
        assert repaired.email_undeliverable_at is not None
        assert (untouched.email, untouched.name, bool(untouched.is_active)) == (
            "carla@customer.example",
            "Carla",
            True,
        )
        assert untouched.email_undeliverable_at is None
