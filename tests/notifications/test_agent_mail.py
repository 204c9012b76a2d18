"""What agents hear (docs/product.md §4, issue 5 part 5): new tickets in their departments, tickets assigned
to them, customer replies on their tickets, changes on tickets they watch; never their own
action, one mail per event each, and only the kinds they chose."""

from __future__ import annotations

from sqlalchemy import update

from tests.factories import (
    assign,
    make_admin,
    make_agent,
    make_customer,
    make_message,
    make_ticket,
    set_status,
    watch,
)
from tests.mailserver import MailServer
from ticketry.core.db import Database
from ticketry.tickets import service as ticket_service
from ticketry.users.models import User

from .conftest import content, deliver, purposes


def settings_of(db: Database, user_id: int, **settings: bool) -> None:
    with db.unit_of_work() as session:
        session.execute(update(User).where(User.id == user_id).values(notification_settings=settings))


class TestNewTicket:
    def test_agents_of_the_department_hear_of_it_with_a_desk_link(
        self, db: Database, mailserver: MailServer
    ) -> None:
        technical = make_agent(db, departments=("technical",))
        billing = make_agent(db, departments=("billing",))
        ticket = make_ticket(db, make_customer(db), department="technical")
        deliver(db, mailserver)
        [mail] = mailserver.to(technical.email)
        assert f"http://127.0.0.1:8000/desk/tickets/{ticket.id}" in content(mail)
        assert mailserver.to(billing.email) == []
        assert purposes(db, technical.id) == ["new_ticket"]

    def test_each_recipient_gets_their_own_mail(self, db: Database, mailserver: MailServer) -> None:
        first, second = make_agent(db), make_agent(db)
        make_ticket(db, make_customer(db))
        deliver(db, mailserver)
        for agent in (first, second):
            [received] = [m for m in mailserver.messages if agent.email in m.envelope_to]
            assert received.envelope_to == [agent.email]
            assert received.message["To"].addresses[0].addr_spec == agent.email
            assert len(received.message["To"].addresses) == 1

    def test_an_agent_who_turned_it_off_is_not_told(self, db: Database, mailserver: MailServer) -> None:
        agent = make_agent(db)
        settings_of(db, agent.id, new_ticket=False)
        make_ticket(db, make_customer(db))
        deliver(db, mailserver)
        assert mailserver.to(agent.email) == []

    def test_deactivated_agents_get_nothing(self, db: Database, mailserver: MailServer) -> None:
        agent = make_agent(db)
        with db.unit_of_work() as session:
            session.execute(update(User).where(User.id == agent.id).values(is_active=False))
        make_ticket(db, make_customer(db))
        deliver(db, mailserver)
        assert mailserver.to(agent.email) == []

    def test_users_without_an_address_get_nothing(self, db: Database, mailserver: MailServer) -> None:
        agent = make_agent(db)
        with db.unit_of_work() as session:
            session.execute(update(User).where(User.id == agent.id).values(email=""))
        make_ticket(db, make_customer(db))
        deliver(db, mailserver)
        assert purposes(db, agent.id) == []
        assert len(mailserver.messages) == 1, "only the customer's receipt"


class TestAssigned:
    def test_the_assignee_hears_of_it(self, db: Database, mailserver: MailServer) -> None:
        agent = make_agent(db)
        ticket = make_ticket(db, make_customer(db))
        deliver(db, mailserver)
        assign(db, make_admin(db), ticket.id, agent)
        deliver(db, mailserver)
        [mail] = mailserver.to(agent.email)
        assert "assigned to you" in content(mail)

    def test_taking_a_ticket_yourself_sends_nothing(self, db: Database, mailserver: MailServer) -> None:
        agent = make_agent(db)
        ticket = make_ticket(db, make_customer(db))
        deliver(db, mailserver)
        assign(db, agent, ticket.id, agent)
        deliver(db, mailserver)
        assert mailserver.to(agent.email) == []

    def test_a_transfer_tells_the_new_assignee(self, db: Database, mailserver: MailServer) -> None:
        giver, taker = make_agent(db), make_agent(db)
        ticket = make_ticket(db, make_customer(db))
        assign(db, giver, ticket.id, giver)
        deliver(db, mailserver)
        with db.unit_of_work() as session:
            ticket_service.transfer_ticket(
                session, giver.actor, ticket.id, to_agent_id=taker.id, note="yours"
            )
        deliver(db, mailserver)
        assert len(mailserver.to(taker.email)) == 1
        assert mailserver.to(giver.email) == []


class TestCustomerReply:
    def test_the_assignee_hears_of_it_and_nobody_else(self, db: Database, mailserver: MailServer) -> None:
        customer = make_customer(db)
        assignee, colleague = make_agent(db), make_agent(db)
        ticket = make_ticket(db, customer)
        assign(db, assignee, ticket.id, assignee)
        deliver(db, mailserver)
        make_message(db, customer, ticket.id, body="Still burning, please hurry")
        deliver(db, mailserver)
        [mail] = mailserver.to(assignee.email)
        assert "Still burning, please hurry" in content(mail)
        assert mailserver.to(colleague.email) == []
        assert mailserver.to(customer.email) == [], "the customer is not told of their own reply"

    def test_an_assignee_who_also_watches_gets_one_mail(self, db: Database, mailserver: MailServer) -> None:
        customer = make_customer(db)
        agent = make_agent(db)
        ticket = make_ticket(db, customer)
        assign(db, agent, ticket.id, agent)
        watch(db, ticket.id, agent)
        deliver(db, mailserver)
        make_message(db, customer, ticket.id)
        deliver(db, mailserver)
        assert len(mailserver.to(agent.email)) == 1
        assert purposes(db, agent.id)[-1] == "customer_reply"


class TestWatched:
    def test_watchers_hear_of_changes_by_others_but_not_their_own(
        self, db: Database, mailserver: MailServer
    ) -> None:
        watcher, other = make_agent(db), make_agent(db)
        ticket = make_ticket(db, make_customer(db))
        watch(db, ticket.id, watcher)
        watch(db, ticket.id, other)
        deliver(db, mailserver)
        set_status(db, other, ticket.id, "on_hold")
        deliver(db, mailserver)
        [mail] = mailserver.to(watcher.email)
        assert "status set to On hold" in content(mail)
        assert mailserver.to(other.email) == []

    def test_watchers_see_notes_the_customer_never_does(self, db: Database, mailserver: MailServer) -> None:
        customer = make_customer(db)
        watcher, author = make_agent(db), make_agent(db)
        ticket = make_ticket(db, customer)
        watch(db, ticket.id, watcher)
        deliver(db, mailserver)
        make_message(db, author, ticket.id, body="Internal: customer owes us money", internal=True)
        deliver(db, mailserver)
        [mail] = mailserver.to(watcher.email)
        assert "Internal note" in content(mail)
        assert "customer owes us money" in content(mail)
        assert mailserver.to(customer.email) == []
        assert mailserver.to(author.email) == []

    def test_edits_reach_watchers(self, db: Database, mailserver: MailServer) -> None:
        watcher, editor = make_agent(db), make_agent(db)
        ticket = make_ticket(db, make_customer(db))
        watch(db, ticket.id, watcher)
        deliver(db, mailserver)
        with db.unit_of_work() as session:
            ticket_service.update_ticket(
                session,
                editor.actor,
                ticket.id,
                edit=ticket_service.TicketEdit(provided=frozenset({"title"}), title="Printer still on fire"),
            )
        deliver(db, mailserver)
        [mail] = mailserver.to(watcher.email)
        assert "title changed" in content(mail)
        assert mail["Subject"].endswith("Printer still on fire")

    def test_a_watcher_who_turned_it_off_is_not_told(self, db: Database, mailserver: MailServer) -> None:
        watcher, other = make_agent(db), make_agent(db)
        settings_of(db, watcher.id, watched_ticket=False)
        ticket = make_ticket(db, make_customer(db))
        watch(db, ticket.id, watcher)
        deliver(db, mailserver)
        set_status(db, other, ticket.id, "on_hold")
        deliver(db, mailserver)
        assert mailserver.to(watcher.email) == []
