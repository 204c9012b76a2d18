"""Mail around a merge (issue 6 part 6): the secondary's customer is told when they are not the
primary's, without learning anything of a ticket they cannot read; later mail to the secondary
lands on the primary."""

from __future__ import annotations

from sqlalchemy import select

from tests import mailserver as smtp_fixtures
from tests.factories import Persona, make_agent, make_customer, make_organization, make_ticket
from tests.mail import inbound as inbound_fixtures
from tests.mail.inbound import log_entry, mail, make_mailbox
from tests.mailserver import MailServer
from tests.notifications.conftest import content, deliver, purposes
from ticketry.core.config import get_settings
from ticketry.core.db import Database
from ticketry.mail.log.models import MailStatus
from ticketry.mail.outbound import ids
from ticketry.messages.models import Message
from ticketry.threads import merge as merges
from ticketry.tickets.models import Ticket

# The SMTP server and the mail settings of tests/mail, as fixtures of this module too.
mailserver = smtp_fixtures.mailserver
mail_settings = inbound_fixtures.mail_settings


def reply_address(ticket_id: int) -> str:
    return ids.reply_address(get_settings().secret_key, get_settings().mail_from, ticket_id=ticket_id)


def do_merge(db: Database, agent: Persona, primary_id: int, secondary_id: int) -> None:
    with db.unit_of_work() as session:
        merges.merge_tickets(
            session, agent.actor, primary_id, [secondary_id], confirm_different_customers=True
        )


class TestCustomerIsTold:
    def test_another_customers_ticket_is_never_named(self, db: Database, mail_settings: MailServer) -> None:
        a, b, agent = make_customer(db), make_customer(db), make_agent(db)
        secondary = make_ticket(db, a, title="My VPN is down")
        primary = make_ticket(db, b, title="Bobsecretproject VPN", description="Bob's private details")
        deliver(db, mail_settings)
        do_merge(db, agent, primary.id, secondary.id)
        deliver(db, mail_settings)
        [notice] = mail_settings.to(a.email)
        text = content(notice)
        assert secondary.number in text and "closed as a duplicate" in text
        assert primary.number not in text and "Bobsecretproject" not in text and "private" not in text
        assert f"/tickets/{primary.id}" not in text
        assert notice["Subject"] == f"[{secondary.number}] My VPN is down"
        assert purposes(db, a.id)[-1] == "ticket_merged"
        assert mail_settings.to(b.email) == [], "the primary's customer hears nothing of it"

    def test_a_colleague_who_can_read_the_primary_is_pointed_there(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        org = make_organization(db, shared=True)
        a, b, agent = (
            make_customer(db, organization_id=org),
            make_customer(db, organization_id=org),
            make_agent(db),
        )
        secondary = make_ticket(db, a)
        primary = make_ticket(db, b, title="Team VPN")
        deliver(db, mail_settings)
        do_merge(db, agent, primary.id, secondary.id)
        deliver(db, mail_settings)
        [notice] = mail_settings.to(a.email)
        text = content(notice)
        assert f"merged into {primary.number}" in text and f"/tickets/{primary.id}" in text

    def test_the_same_customer_is_not_told(self, db: Database, mail_settings: MailServer) -> None:
        a, agent = make_customer(db), make_agent(db)
        one, two = make_ticket(db, a), make_ticket(db, a)
        deliver(db, mail_settings)
        do_merge(db, agent, one.id, two.id)
        deliver(db, mail_settings)
        assert "ticket_merged" not in purposes(db, a.id)
        assert mail_settings.to(a.email) == []


class TestLaterMail:
    def test_a_reply_to_the_secondary_lands_on_the_primary(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        inbox = make_mailbox(db)
        agent = make_agent(db)
        inbox.receive(mail(sender="carla@customer.example", subject="VPN down"))
        inbox.receive(mail(sender="carla@customer.example", subject="VPN still down"))
        with db.unit_of_work(write=False) as session:
            first, second = session.scalars(select(Ticket).order_by(Ticket.id)).all()
        do_merge(db, agent, first.id, second.id)
        by_address = inbox.receive(
            mail(
                sender="carla@customer.example",
                subject="more",
                to=reply_address(second.id),
                body="By address.",
            )
        )
        assert by_address.status is MailStatus.APPENDED and by_address.ticket_id == first.id
        assert f"merged into {first.number}" in by_address.reason
        by_number = inbox.receive(
            mail(sender="carla@customer.example", subject=f"Re: [{second.number}] VPN", body="By number.")
        )
        assert by_number.status is MailStatus.APPENDED and by_number.ticket_id == first.id
        with db.unit_of_work(write=False) as session:
            bodies = list(session.scalars(select(Message.body).where(Message.ticket_id == first.id)))
            second_now = session.get(Ticket, second.id)
        assert any(b.startswith("By address.") for b in bodies) and any(
            b.startswith("By number.") for b in bodies
        )
        assert second_now is not None and second_now.status.value == "closed", "the secondary stays closed"
        assert log_entry(db, by_number.id).ticket_id == first.id
