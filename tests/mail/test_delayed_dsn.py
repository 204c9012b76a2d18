"""A delivery report that says "delayed" is no failure (issue 14 A.2): the receiving server keeps
trying (`Action: delayed`, 4.x.x), so our mail stays sent, nothing is marked undeliverable and
no "bounced" note is added; the log and the ticket's history say delivery is delayed. A report
that fails one recipient and delays another does each. Fixtures: tests/mail/real_world/dsn_*.eml,
with the original's Message-ID and the recipients filled in."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.factories import make_agent, make_customer, make_message, make_ticket
from tests.mailserver import MailServer
from ticketry.core.db import Database
from ticketry.history.models import TicketEvent
from ticketry.mail.log.models import MailStatus
from ticketry.messages.models import Message
from ticketry.tickets.models import Ticket
from ticketry.users.models import User

from .inbound import mail_settings, make_mailbox, outbound, run_jobs, sent_before

__all__ = ["mail_settings"]

REAL_WORLD = Path(__file__).parent / "real_world"


def fixture(name: str, **values: str) -> bytes:
    """A fixture with its `@@NAME@@` placeholders filled in."""
    data = (REAL_WORLD / f"{name}.eml").read_bytes()
    for key, value in values.items():
        data = data.replace(f"@@{key.upper()}@@".encode(), value.encode())
    assert b"@@" not in data, f"{name}: a placeholder is left"
    return data


def events(db: Database, ticket_id: int, field: str) -> list[TicketEvent]:
    with db.unit_of_work(write=False) as session:
        return list(
            session.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket_id, TicketEvent.field == field)
                .order_by(TicketEvent.id)
            )
        )


def user_by_email(db: Database, email: str) -> User:
    with db.unit_of_work(write=False) as session:
        return session.scalars(select(User).where(User.email == email)).one()


def ticket_count(db: Database) -> int:
    with db.unit_of_work(write=False) as session:
        return len(list(session.scalars(select(Ticket.id))))


def messages(db: Database, ticket_id: int) -> list[Message]:
    with db.unit_of_work(write=False) as session:
        return list(session.scalars(select(Message).where(Message.ticket_id == ticket_id)))


class TestDelayedReport:
    @pytest.mark.parametrize("name", ["dsn_postfix_delayed", "dsn_exchange_delayed"])
    def test_a_delay_leaves_our_mail_sent_and_says_it_is_delayed(
        self, db: Database, mail_settings: MailServer, name: str
    ) -> None:
        customer = make_customer(db)
        ticket = make_ticket(db, customer)
        run_jobs(db)
        [receipt] = mail_settings.to(customer.email)
        report = fixture(name, recipient=customer.email, original_message_id=str(receipt["Message-ID"]))

        entry = make_mailbox(db).receive(report)

        assert entry.status is MailStatus.BOUNCE and entry.ticket_id == ticket.id
        assert f"Delivery to {customer.email} is delayed" in entry.reason
        assert "failed" not in entry.reason
        [ours] = [m for m in outbound(db) if m.user_id == customer.id]
        assert ours.status is MailStatus.SENT
        assert ours.reason.startswith(f"Delivery delayed (report in mail {entry.id}): {customer.email}")
        assert user_by_email(db, customer.email).email_undeliverable_at is None
        assert events(db, ticket.id, "mail_bounced") == []
        [delay] = events(db, ticket.id, "mail_delayed")
        assert delay.is_internal and delay.new_value is not None
        assert delay.new_value.startswith(f"{customer.email}: ")
        assert messages(db, ticket.id) == [] and ticket_count(db) == 1
        # The customer still hears from us.
        mail_settings.messages.clear()
        make_message(db, make_agent(db), ticket.id, body="Here is the answer.")
        run_jobs(db)
        assert len(mail_settings.to(customer.email)) == 1

    def test_the_delay_names_the_servers_reason(self, db: Database, mail_settings: MailServer) -> None:
        customer = make_customer(db)
        ticket = make_ticket(db, customer)
        run_jobs(db)
        [receipt] = mail_settings.to(customer.email)
        report = fixture(
            "dsn_postfix_delayed", recipient=customer.email, original_message_id=str(receipt["Message-ID"])
        )

        entry = make_mailbox(db).receive(report)

        assert "Connection timed out" in entry.reason
        [delay] = events(db, ticket.id, "mail_delayed")
        assert delay.new_value is not None and "Connection timed out" in delay.new_value


class TestMixedReport:
    def test_the_failed_recipient_bounces_and_the_delayed_one_is_only_noted(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        gone, slow = make_customer(db), make_customer(db)
        ticket = make_ticket(db, gone)
        original = "<reply-to-two.4711@help.example.com>"
        sent_before(db, original, [gone.email, slow.email], user_id=None, ticket_id=ticket.id)
        report = fixture(
            "dsn_mixed_failed_delayed", failed=gone.email, delayed=slow.email, original_message_id=original
        )

        entry = make_mailbox(db).receive(report)

        assert entry.status is MailStatus.BOUNCE and entry.ticket_id == ticket.id
        assert f"Delivery to {gone.email} failed" in entry.reason
        assert f"Delivery to {slow.email} is delayed" in entry.reason
        [ours] = [m for m in outbound(db) if m.message_id_header == original]
        assert ours.status is MailStatus.FAILED
        assert ours.reason.startswith("Bounced after delivery: 550 5.1.1")
        assert "Delivery delayed" in ours.reason and slow.email in ours.reason
        assert user_by_email(db, gone.email).email_undeliverable_at is not None
        assert user_by_email(db, slow.email).email_undeliverable_at is None
        [bounced] = events(db, ticket.id, "mail_bounced")
        assert bounced.new_value is not None
        assert bounced.new_value.startswith(f"{gone.email}: ") and slow.email not in bounced.new_value
        [delay] = events(db, ticket.id, "mail_delayed")
        assert delay.new_value is not None and delay.new_value.startswith(f"{slow.email}: 452 4.2.2")
