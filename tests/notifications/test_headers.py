"""The headers of every notification: signed Message-IDs, one thread per ticket, Reply-To with
the ticket's token signed for its recipient, marked automatic, and no header smuggled in through
a title or a name (the hostile cases are in tests/security/test_outgoing_mail_headers.py)."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from sqlalchemy import select

from tests.factories import make_agent, make_customer, make_message, make_ticket, make_user
from tests.mailserver import MailServer
from ticketry.core.config import get_settings
from ticketry.core.db import Database
from ticketry.jobs.models import Job, JobStatus
from ticketry.mail.log.models import MailStatus
from ticketry.mail.outbound import ids
from ticketry.users.models import Role

from .conftest import deliver, mail_log

INJECTION = "Hello\r\nBcc: victim@example.org\r\nX-Evil: 1"


def secret() -> str:
    return get_settings().secret_key


class TestThreading:
    def test_every_mail_of_a_ticket_answers_its_first(self, db: Database, mailserver: MailServer) -> None:
        customer = make_customer(db)
        agent = make_agent(db)
        ticket = make_ticket(db, customer)
        deliver(db, mailserver)
        [received] = mailserver.to(customer.email)
        reply = make_message(db, agent, ticket.id, body="Looking into it.")
        deliver(db, mailserver)
        [answer] = mailserver.to(customer.email)

        first_id = received["Message-ID"]
        assert ids.ticket_in_message_id(secret(), first_id) == (ticket.id, 0)
        assert ids.ticket_in_message_id(secret(), answer["Message-ID"]) == (ticket.id, reply.id)
        assert answer["In-Reply-To"] == first_id
        assert answer["References"].split() == [first_id]
        assert received["In-Reply-To"] is None
        [first_logged, *_] = [entry for entry in mail_log(db) if entry.ticket_id == ticket.id]
        assert first_logged.message_id_header == first_id

    def test_message_ids_are_unique_and_forged_ones_do_not_parse(
        self, db: Database, mailserver: MailServer
    ) -> None:
        make_agent(db)
        make_agent(db)
        make_ticket(db, make_customer(db))
        deliver(db, mailserver)
        message_ids = [m.message["Message-ID"] for m in mailserver.messages]
        assert len(message_ids) == 3
        assert len(set(message_ids)) == 3
        forged = message_ids[0].replace(".t", ".t9", 1)
        assert ids.ticket_in_message_id(secret(), forged) is None

    def test_reply_to_carries_the_ticket_token_and_the_mail_is_automatic(
        self, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        ticket = make_ticket(db, customer)
        deliver(db, mailserver)
        [mail] = mailserver.to(customer.email)
        reply_to = mail["Reply-To"].addresses[0].addr_spec
        assert reply_to.startswith(f"support+t{ticket.id}.u{customer.id}.")
        assert ids.reply_tag(secret(), reply_to) == ids.ReplyTag(ticket.id, customer.id)
        assert mail["From"].addresses[0].addr_spec == "support@localhost"
        assert mail["Auto-Submitted"] == "auto-replied"
        assert mail.get_content_type() == "multipart/alternative"


class TestReplyAddressPerRecipient:
    def test_each_recipient_of_one_event_gets_an_address_that_names_them(
        self, db: Database, mailserver: MailServer
    ) -> None:
        """One new ticket mails the customer and two agents: three Reply-To addresses, each read
        back (signature checked) as the ticket and that recipient, none usable for another."""
        customer = make_customer(db)
        first, second = make_agent(db), make_agent(db)
        ticket = make_ticket(db, customer)
        deliver(db, mailserver)

        addresses = {}
        for person in (customer, first, second):
            [mail] = mailserver.to(person.email)
            [reply_to] = mail["Reply-To"].addresses
            addresses[person.id] = reply_to.addr_spec
            assert ids.reply_tag(secret(), reply_to.addr_spec) == ids.ReplyTag(ticket.id, person.id)
        assert len(set(addresses.values())) == 3
        # Another recipient's id with this recipient's signature is no address of ours.
        forged = addresses[first.id].replace(f".u{first.id}.", f".u{second.id}.")
        assert ids.reply_tag(secret(), forged) is None


def _assert_clean(messages: list[EmailMessage]) -> None:
    for mail in messages:
        assert mail["Bcc"] is None
        assert mail["X-Evil"] is None
        assert "victim@example.org" not in [a.addr_spec for a in mail["To"].addresses]


class TestHeaderInjection:
    def test_a_title_with_line_breaks_adds_no_header(self, db: Database, mailserver: MailServer) -> None:
        customer = make_customer(db)
        make_agent(db)
        make_ticket(db, customer, title=INJECTION)
        deliver(db, mailserver)
        assert len(mailserver.messages) == 2
        _assert_clean([m.message for m in mailserver.messages])
        assert all("victim@example.org" not in m.envelope_to for m in mailserver.messages)
        [mail] = mailserver.to(customer.email)
        assert mail["Subject"].startswith("[") and "Bcc: victim@example.org" in mail["Subject"]

    def test_a_name_with_line_breaks_adds_no_header(self, db: Database, mailserver: MailServer) -> None:
        customer = make_user(db, role=Role.CUSTOMER, name=INJECTION)
        agent = make_user(db, role=Role.AGENT, name=INJECTION)
        ticket = make_ticket(db, customer)
        make_message(db, agent, ticket.id, body="Hi")
        deliver(db, mailserver)
        assert {tuple(m.envelope_to) for m in mailserver.messages} == {(customer.email,), (agent.email,)}
        _assert_clean([m.message for m in mailserver.messages])


class TestWithoutSmtp:
    def test_nothing_crashes_and_the_log_says_not_sent(
        self, db: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.delenv("TICKETRY_SMTP_HOST", raising=False)
        get_settings.cache_clear()
        customer = make_customer(db)
        make_agent(db)
        make_ticket(db, customer)
        deliver(db)
        entries = mail_log(db)
        assert {(e.purpose, e.status) for e in entries} == {
            ("ticket_received", MailStatus.NOT_SENT),
            ("new_ticket", MailStatus.NOT_SENT),
        }
        with db.unit_of_work(write=False) as session:
            assert set(session.scalars(select(Job.status))) == {JobStatus.DONE}
