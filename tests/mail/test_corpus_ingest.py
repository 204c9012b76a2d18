"""The mail corpus (`corpus/*.eml`, mail as real clients and servers write it) through the whole
channel (issue 5): each mail, delivered as the poller or the webhook would, has the outcome its
`kind` in `corpus/expected.toml` names. Only mail from a person opens a ticket or gets a receipt;
a reply lands on the ticket it answers; automatic mail creates nothing and is never answered.

`tests/mail/test_parse.py` checks the same files field by field; here only what a user of the
desk notices: tickets, messages, files, the mail sent, the mail log and the users marked."""

from __future__ import annotations

import tomllib
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.mailserver import MailServer
from ticketry.attachments.kinds import KINDS
from ticketry.attachments.models import Attachment
from ticketry.auth import service as auth_service
from ticketry.core.db import Database
from ticketry.mail.log.models import MailStatus
from ticketry.mail.outbound.addresses import is_unattended
from ticketry.messages.models import Message
from ticketry.tickets import service as ticket_service
from ticketry.tickets.models import Source, Ticket
from ticketry.users import service as users
from ticketry.users.models import Role, User

from .inbound import mail_settings, make_mailbox, outbound, run_jobs, sent_before

__all__ = ["mail_settings"]

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, Any]] = tomllib.loads((CORPUS / "expected.toml").read_text("utf-8"))
OUTCOMES = {
    "new": MailStatus.CREATED_TICKET,
    "reply": MailStatus.APPENDED,
    "auto_reply": MailStatus.AUTO_REPLY,
    "list": MailStatus.AUTO_REPLY,
    "bounce": MailStatus.BOUNCE,
    "spam": MailStatus.SPAM_HELD,
}


# The allow-list of docs/product.md §5 holds for mail as for uploads: a winmail.dat (TNEF) kept as it came is
# named in the text as not accepted, the rest (a forwarded .eml too) arrive.
ACCEPTED_EXTENSIONS = frozenset(extension for kind in KINDS.values() for extension in kind.extensions)


def accepted(files: list[str]) -> list[str]:
    return sorted(name for name in files if name.rpartition(".")[2].lower() in ACCEPTED_EXTENSIONS)


def refused(files: list[str]) -> list[str]:
    return sorted(set(files) - set(accepted(files)))


def of_kind(*kinds: str) -> list[str]:
    return sorted(name for name, entry in EXPECTED.items() if entry["kind"] in kinds)


def raw(name: str) -> bytes:
    return (CORPUS / f"{name}.eml").read_bytes()


# --- the desk as a user sees it -----------------------------------------------------------------


def tickets(db: Database) -> list[Ticket]:
    with db.unit_of_work(write=False) as session:
        return list(session.scalars(select(Ticket).order_by(Ticket.id)))


def messages(db: Database, ticket_id: int) -> list[Message]:
    with db.unit_of_work(write=False) as session:
        return list(
            session.scalars(select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id))
        )


def files_of(db: Database, ticket_id: int) -> dict[str, Attachment]:
    with db.unit_of_work(write=False) as session:
        rows = session.scalars(select(Attachment).where(Attachment.ticket_id == ticket_id))
        return {row.filename: row for row in rows}


def user_by_email(db: Database, email: str) -> User | None:
    with db.unit_of_work(write=False) as session:
        return session.scalars(select(User).where(User.email == email)).one_or_none()


def nothing_happened(db: Database, server: MailServer) -> None:
    assert tickets(db) == []
    assert outbound(db) == [] and server.messages == []


# --- what the mail answers ----------------------------------------------------------------------


def customer_with_email(db: Database, email: str) -> User:
    with db.unit_of_work() as session:
        return users.create_user(session, email=email, name="Corpus Customer", role=Role.CUSTOMER)


def ticket_of(db: Database, email: str) -> tuple[User, Ticket]:
    """A customer with this address and a ticket of theirs, opened on the web."""
    customer = customer_with_email(db, email)
    with db.unit_of_work() as session:
        actor = auth_service.actor_for(session, customer)
        ticket = ticket_service.create_ticket(
            session, actor, title="The first mail", description="Hello.", department="technical"
        )
        return customer, ticket


def referenced_ids(data: bytes) -> list[str]:
    """The Message-IDs a mail answers (In-Reply-To, References)."""
    message = message_from_bytes(data, policy=default)
    values = [str(v) for name in ("In-Reply-To", "References") for v in message.get_all(name, [])]
    return [f"<{part.strip('<>')}>" for value in values for part in value.split() if "@" in part]


# --- the tests ----------------------------------------------------------------------------------


class TestCorpus:
    def test_every_mail_has_a_kind_the_channel_knows(self) -> None:
        assert {path.stem for path in CORPUS.glob("*.eml")} == set(EXPECTED)
        assert {entry["kind"] for entry in EXPECTED.values()} <= set(OUTCOMES)
        assert {entry["kind"] for entry in EXPECTED.values()} == set(OUTCOMES), "every kind is tried"


class TestNewMail:
    @pytest.mark.parametrize("name", of_kind("new"))
    def test_it_opens_a_ticket_with_its_text_and_files_and_the_sender_gets_a_receipt(
        self, db: Database, mail_settings: MailServer, name: str
    ) -> None:
        expected = EXPECTED[name]
        sender = expected["from"]

        entry = make_mailbox(db).receive(raw(name))
        run_jobs(db)

        assert entry.status is MailStatus.CREATED_TICKET, entry.reason
        [ticket] = tickets(db)
        assert entry.ticket_id == ticket.id and ticket.source is Source.EMAIL
        assert ticket.title == expected["subject"]
        assert ticket.description.strip()
        for text in expected["reply_text_contains"]:
            assert text in ticket.description
        for file in refused(expected["files"]):
            assert f"- {file}: " in ticket.description
        customer = user_by_email(db, sender)
        assert customer is not None and ticket.customer_id == customer.id
        files = files_of(db, ticket.id)
        assert sorted(files) == accepted(expected["files"])
        for image in expected.get("inline", []):
            assert ticket.mail_html is not None
            assert f"{files[image].url}?inline=1" in ticket.mail_html
        if is_unattended(sender):
            # A form's no-reply sender reads nothing: no receipt goes there (issue 12 item 10).
            assert mail_settings.messages == [] and outbound(db) == []
            return
        [receipt] = mail_settings.messages
        assert receipt.envelope_to == [sender]
        assert receipt.message["Auto-Submitted"] == "auto-replied"
        assert str(receipt.message["Subject"]).startswith(f"[{ticket.number}] ")
        assert [m.purpose for m in outbound(db)] == ["ticket_received"]


class TestReply:
    @pytest.mark.parametrize("name", of_kind("reply"))
    def test_it_lands_on_the_ticket_it_answers_and_sends_nothing_back(
        self, db: Database, mail_settings: MailServer, name: str
    ) -> None:
        expected = EXPECTED[name]
        data = raw(name)
        sender = expected["from"]
        customer, ticket = ticket_of(db, sender)
        referenced = referenced_ids(data)
        assert referenced, f"{name} answers no Message-ID"
        for message_id in referenced:
            sent_before(db, message_id, [sender], user_id=customer.id, ticket_id=ticket.id)
        run_jobs(db)  # the web ticket's own receipt
        mail_settings.messages.clear()

        entry = make_mailbox(db).receive(data)
        run_jobs(db)

        assert entry.status is MailStatus.APPENDED, entry.reason
        assert entry.ticket_id == ticket.id and "already had" in entry.reason
        assert len(tickets(db)) == 1
        [message] = messages(db, ticket.id)
        assert message.author_id == customer.id and not message.is_internal
        assert message.source is Source.EMAIL
        for text in expected["reply_text_contains"]:
            assert text in message.body
        for text in expected["reply_text_excludes"]:
            assert text not in message.body
        for file in refused(expected["files"]):
            assert f"- {file}: " in message.body
        assert sorted(files_of(db, ticket.id)) == accepted(expected["files"])
        assert mail_settings.messages == [], "a customer's reply is never confirmed by mail"

    @pytest.mark.parametrize("name", of_kind("reply"))
    def test_without_a_ticket_to_answer_it_opens_one(
        self, db: Database, mail_settings: MailServer, name: str
    ) -> None:
        """The corpus's ids are signed with another key and its `[#1042]` numbers are not ours:
        neither may thread it anywhere."""
        customer, other = ticket_of(db, "someone.else@example.org")
        run_jobs(db)
        mail_settings.messages.clear()

        entry = make_mailbox(db).receive(raw(name))
        run_jobs(db)

        assert entry.status is MailStatus.CREATED_TICKET and entry.ticket_id != other.id
        assert messages(db, other.id) == []
        assert [m.envelope_to for m in mail_settings.messages] == [[EXPECTED[name]["from"]]]
        assert customer.email not in {a for m in mail_settings.messages for a in m.envelope_to}


class TestAutomaticMail:
    @pytest.mark.parametrize("name", of_kind("auto_reply", "list"))
    def test_it_creates_nothing_and_gets_no_answer(
        self, db: Database, mail_settings: MailServer, name: str
    ) -> None:
        entry = make_mailbox(db).receive(raw(name))
        run_jobs(db)

        assert entry.status is MailStatus.AUTO_REPLY and entry.reason
        nothing_happened(db, mail_settings)
        assert user_by_email(db, EXPECTED[name]["from"]) is None

    @pytest.mark.parametrize("name", of_kind("auto_reply"))
    def test_answering_a_ticket_of_ours_it_adds_nothing_to_it(
        self, db: Database, mail_settings: MailServer, name: str
    ) -> None:
        data = raw(name)
        sender = EXPECTED[name]["from"]
        customer, ticket = ticket_of(db, sender)
        for message_id in referenced_ids(data):
            sent_before(db, message_id, [sender], user_id=customer.id, ticket_id=ticket.id)
        run_jobs(db)
        mail_settings.messages.clear()

        entry = make_mailbox(db).receive(data)
        run_jobs(db)

        assert entry.status is MailStatus.AUTO_REPLY
        assert messages(db, ticket.id) == []
        assert mail_settings.messages == []


class TestBounce:
    @pytest.mark.parametrize("name", of_kind("bounce"))
    def test_it_marks_the_failed_recipient_undeliverable_and_fails_our_mail(
        self, db: Database, mail_settings: MailServer, name: str
    ) -> None:
        expected = EXPECTED[name]
        failed = expected["failed_recipients"]
        people = [customer_with_email(db, address) for address in failed]
        sent_before(
            db,
            expected["original_message_id"],
            failed,
            user_id=people[0].id if len(people) == 1 else None,
        )

        entry = make_mailbox(db).receive(raw(name))
        run_jobs(db)

        assert entry.status is MailStatus.BOUNCE
        assert expected["diagnostic_contains"] in entry.reason
        for address in failed:
            user = user_by_email(db, address)
            assert user is not None and user.email_undeliverable_at is not None, address
            assert expected["diagnostic_contains"] in user.email_undeliverable_reason
            assert address in entry.reason
        [ours] = outbound(db)
        assert ours.status is MailStatus.FAILED and "Bounced" in ours.reason
        assert tickets(db) == [] and mail_settings.messages == []

    @pytest.mark.parametrize("name", of_kind("bounce"))
    def test_an_address_nobody_has_is_only_logged(
        self, db: Database, mail_settings: MailServer, name: str
    ) -> None:
        entry = make_mailbox(db).receive(raw(name))
        run_jobs(db)

        assert entry.status is MailStatus.BOUNCE and entry.reason
        for address in EXPECTED[name]["failed_recipients"]:
            assert user_by_email(db, address) is None
        nothing_happened(db, mail_settings)


class TestSpam:
    @pytest.mark.parametrize("name", of_kind("spam"))
    def test_it_is_held_and_nothing_is_sent(self, db: Database, mail_settings: MailServer, name: str) -> None:
        entry = make_mailbox(db).receive(raw(name))
        run_jobs(db)

        assert entry.status is MailStatus.SPAM_HELD and entry.reason
        nothing_happened(db, mail_settings)
        assert user_by_email(db, EXPECTED[name]["from"]) is None
