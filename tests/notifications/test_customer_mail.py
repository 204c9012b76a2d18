"""What the requester hears (docs/product.md §4, issue 5 part 5): a receipt, every public staff reply, and
resolved / closed; never an internal note, never their own action, and only what they asked for."""

from __future__ import annotations

from sqlalchemy import update

from tests.factories import make_agent, make_customer, make_message, make_ticket, set_status
from tests.mailserver import MailServer
from ticketry.core.db import Database
from ticketry.jobs import service as jobs
from ticketry.messages import events as message_events
from ticketry.messages.models import Message
from ticketry.tickets import service as ticket_service
from ticketry.users.models import User

from .conftest import content, deliver, mail_log, purposes

SECRET = "the root password is hunter2"


def turn_off(db: Database, user_id: int, **settings: bool) -> None:
    with db.unit_of_work() as session:
        session.execute(update(User).where(User.id == user_id).values(notification_settings=settings))


class TestTicketReceived:
    def test_the_customer_gets_a_receipt_with_the_portal_link(
        self, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        ticket = make_ticket(db, customer, title="Printer on fire")
        deliver(db, mailserver)
        [mail] = mailserver.to(customer.email)
        assert mail["Subject"] == f"[{ticket.number}] Printer on fire"
        assert f"http://127.0.0.1:8000/tickets/{ticket.id}" in content(mail)
        assert "/desk/" not in content(mail)
        assert purposes(db, customer.id) == ["ticket_received"]

    def test_a_ticket_filed_by_staff_still_tells_the_customer(
        self, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        agent = make_agent(db)
        with db.unit_of_work() as session:
            ticket_service.create_ticket(
                session, agent.actor, title="Phoned in", description="By phone.", customer_id=customer.id
            )
        deliver(db, mailserver)
        assert len(mailserver.to(customer.email)) == 1
        assert mailserver.to(agent.email) == [], "the agent who filed it is not told of it"

    def test_turned_off_it_is_not_sent(self, db: Database, mailserver: MailServer) -> None:
        customer = make_customer(db)
        turn_off(db, customer.id, ticket_received=False)
        make_ticket(db, customer)
        deliver(db, mailserver)
        assert mailserver.to(customer.email) == []
        assert purposes(db, customer.id) == []

    def test_a_deactivated_customer_gets_nothing(self, db: Database, mailserver: MailServer) -> None:
        customer = make_customer(db)
        make_ticket(db, customer)
        with db.unit_of_work() as session:
            session.execute(update(User).where(User.id == customer.id).values(is_active=False))
        deliver(db, mailserver)
        assert mailserver.to(customer.email) == []


class TestStaffReply:
    def test_a_public_reply_reaches_the_customer(self, db: Database, mailserver: MailServer) -> None:
        customer = make_customer(db)
        agent = make_agent(db)
        ticket = make_ticket(db, customer)
        deliver(db, mailserver)
        make_message(db, agent, ticket.id, body="Have you tried **turning it off**?")
        deliver(db, mailserver)
        [mail] = mailserver.to(customer.email)
        assert "Have you tried" in content(mail)
        assert "<strong>turning it off</strong>" in content(mail)
        assert mail["Subject"] == f"[{ticket.number}] {ticket.title}"

    def test_a_note_never_reaches_the_customer(self, db: Database, mailserver: MailServer) -> None:
        customer = make_customer(db)
        agent = make_agent(db)
        ticket = make_ticket(db, customer)
        deliver(db, mailserver)
        make_message(db, agent, ticket.id, body=SECRET, internal=True)
        deliver(db, mailserver)
        assert mailserver.to(customer.email) == []
        assert all(SECRET not in content(m.message) for m in mailserver.messages)
        assert purposes(db, customer.id) == ["ticket_received"]
        assert all(
            SECRET.encode() not in (entry.raw or b"")
            for entry in mail_log(db)
            if entry.user_id == customer.id
        )

    def test_an_event_that_calls_a_note_public_still_sends_nothing(
        self, db: Database, mailserver: MailServer
    ) -> None:
        """The payload is not trusted: the customer's mail is built from what the customer may
        read, and a note is not that."""
        customer = make_customer(db)
        agent = make_agent(db)
        ticket = make_ticket(db, customer)
        note = make_message(db, agent, ticket.id, body=SECRET, internal=True)
        with db.unit_of_work() as session:
            jobs.enqueue(
                session,
                message_events.CREATED(
                    {"ticket_id": ticket.id, "message_id": note.id, "internal": False, "staff": True}
                ),
            )
        deliver(db, mailserver)
        assert all(SECRET not in content(m) for m in mailserver.to(customer.email))
        assert "staff_reply" not in purposes(db, customer.id)

    def test_a_reply_deleted_before_the_job_runs_is_not_sent(
        self, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        agent = make_agent(db)
        ticket = make_ticket(db, customer)
        deliver(db, mailserver)
        reply = make_message(db, agent, ticket.id, body="Oops, wrong ticket")
        with db.unit_of_work() as session:
            session.execute(
                update(Message).where(Message.id == reply.id).values(deleted_at=ticket.created_at)
            )
        deliver(db, mailserver)
        assert mailserver.to(customer.email) == []

    def test_staff_replies_are_sent_even_with_everything_off(
        self, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        agent = make_agent(db)
        turn_off(
            db,
            customer.id,
            ticket_received=False,
            ticket_resolved=False,
            ticket_closed=False,
            staff_reply=False,
        )
        ticket = make_ticket(db, customer)
        make_message(db, agent, ticket.id, body="We are on it.")
        deliver(db, mailserver)
        [mail] = mailserver.to(customer.email)
        assert "We are on it." in content(mail)


class TestStatus:
    def test_resolved_and_closed_are_told(self, db: Database, mailserver: MailServer) -> None:
        customer = make_customer(db)
        agent = make_agent(db)
        ticket = make_ticket(db, customer)
        set_status(db, agent, ticket.id, "in_progress")
        set_status(db, agent, ticket.id, "resolved")
        deliver(db, mailserver)
        set_status(db, agent, ticket.id, "closed")
        deliver(db, mailserver)
        assert purposes(db, customer.id) == ["ticket_received", "ticket_resolved", "ticket_closed"]
        [closed] = mailserver.to(customer.email)
        assert "is closed" in content(closed)

    def test_other_status_changes_are_not(self, db: Database, mailserver: MailServer) -> None:
        customer = make_customer(db)
        agent = make_agent(db)
        ticket = make_ticket(db, customer)
        deliver(db, mailserver)
        set_status(db, agent, ticket.id, "on_hold")
        deliver(db, mailserver)
        assert mailserver.to(customer.email) == []

    def test_the_customer_closing_their_own_ticket_gets_no_mail(
        self, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        ticket = make_ticket(db, customer)
        deliver(db, mailserver)
        set_status(db, customer, ticket.id, "closed")
        deliver(db, mailserver)
        assert mailserver.to(customer.email) == []

    def test_turned_off_resolved_is_not_sent(self, db: Database, mailserver: MailServer) -> None:
        customer = make_customer(db)
        agent = make_agent(db)
        turn_off(db, customer.id, ticket_resolved=False)
        ticket = make_ticket(db, customer)
        deliver(db, mailserver)
        set_status(db, agent, ticket.id, "in_progress")
        set_status(db, agent, ticket.id, "resolved")
        deliver(db, mailserver)
        assert mailserver.to(customer.email) == []
