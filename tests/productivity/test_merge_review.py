"""Security review of merge/unmerge/split (issue 6 part 6): cases found in review, each of which
failed before its fix."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests import mailserver as smtp_fixtures
from tests.factories import api_ticket, make_admin, make_agent, make_customer, make_ticket
from tests.mail import inbound as inbound_fixtures
from tests.mail.inbound import mail, make_mailbox
from tests.mailserver import MailServer
from ticketry.core.config import get_settings
from ticketry.core.db import Database
from ticketry.mail.log.models import MailStatus
from ticketry.mail.outbound import ids
from ticketry.messages.models import Message
from ticketry.threads import merge as merges
from ticketry.tickets.models import Ticket

mailserver = smtp_fixtures.mailserver
mail_settings = inbound_fixtures.mail_settings


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def test_unmerge_refuses_when_the_merged_description_was_split_off(client: TestClient, db: Database) -> None:
    """The description message a merge made was split into a third ticket: undoing the merge used to
    delete it from that ticket. It must refuse (409) and leave the third ticket whole."""
    admin, customer = make_admin(db), make_customer(db)
    primary = api_ticket(client, customer, title="Primary", department="technical")
    secondary = api_ticket(
        client, customer, title="Secondary", description="Zebra desc.", department="technical"
    )
    ok(
        client.post(
            f"/api/v1/tickets/{primary['id']}/merge",
            json={"ticketIds": [secondary["id"]], "confirmDifferentCustomers": True},
            headers=admin.headers,
        ),
        201,
    )
    with db.unit_of_work(write=False) as session:
        description_id = session.scalar(
            select(Message.id).where(
                Message.ticket_id == primary["id"], Message.moved_from_ticket_id == secondary["id"]
            )
        )
    assert description_id is not None
    third = ok(
        client.post(
            f"/api/v1/tickets/{primary['id']}/split",
            json={"messageIds": [description_id]},
            headers=admin.headers,
        ),
        201,
    )
    undone = client.post(f"/api/v1/tickets/{secondary['id']}/unmerge", headers=admin.headers)
    assert undone.status_code == 409, undone.text
    assert undone.json()["error"]["code"] == "moved_since_merge"
    with db.unit_of_work(write=False) as session:
        assert list(session.scalars(select(Message.id).where(Message.ticket_id == third["id"]))) == [
            description_id
        ]
        still = session.get(Ticket, secondary["id"])
        assert still is not None and still.merged_into_id == primary["id"]


def test_later_mail_from_another_customer_does_not_land_in_the_primary(
    db: Database, mail_settings: MailServer
) -> None:
    """A's ticket merged into B's: A's reply to their (secondary) ticket's mail must not appear in
    B's conversation, which A cannot read. It opens a follow-up of A's own instead."""
    inbox = make_mailbox(db)
    agent = make_agent(db)
    bob = make_customer(db)
    primary = make_ticket(db, bob, title="Bob's VPN")
    inbox.receive(mail(sender="carla@customer.example", subject="VPN down"))
    with db.unit_of_work(write=False) as session:
        secondary = session.scalars(select(Ticket).order_by(Ticket.id.desc()).limit(1)).one()
    with db.unit_of_work() as session:
        merges.merge_tickets(
            session, agent.actor, primary.id, [secondary.id], confirm_different_customers=True
        )
    address = ids.reply_address(get_settings().secret_key, get_settings().mail_from, ticket_id=secondary.id)
    for sent in (
        mail(sender="carla@customer.example", subject="more", to=address, body="Carlaprivate by address."),
        mail(
            sender="carla@customer.example", subject=f"Re: [{secondary.number}] VPN", body="Carlaprivate 2."
        ),
    ):
        entry = inbox.receive(sent)
        assert entry.status is MailStatus.CREATED_TICKET, entry.reason
        assert entry.ticket_id not in (primary.id, secondary.id)
    with db.unit_of_work(write=False) as session:
        bodies = list(session.scalars(select(Message.body).where(Message.ticket_id == primary.id)))
    assert not any("Carlaprivate" in body for body in bodies)


def test_the_duplicates_customer_cannot_write_into_the_primary_by_its_number(
    db: Database, mail_settings: MailServer
) -> None:
    """Carla's messages moved to Bob's ticket by the merge; that must not make her "someone on the
    ticket" who may thread mail into Bob's conversation by typing its (sequential) number."""
    inbox = make_mailbox(db)
    agent = make_agent(db)
    bob = make_customer(db)
    primary = make_ticket(db, bob, title="Bob's VPN")
    inbox.receive(mail(sender="carla@customer.example", subject="VPN down"))
    with db.unit_of_work(write=False) as session:
        secondary = session.scalars(select(Ticket).order_by(Ticket.id.desc()).limit(1)).one()
    with db.unit_of_work() as session:
        merges.merge_tickets(
            session, agent.actor, primary.id, [secondary.id], confirm_different_customers=True
        )
    entry = inbox.receive(
        mail(sender="carla@customer.example", subject=f"Re: [{primary.number}] hi", body="Carlaguess.")
    )
    assert entry.status is MailStatus.CREATED_TICKET, entry.reason
    assert entry.ticket_id != primary.id
    with db.unit_of_work(write=False) as session:
        bodies = list(session.scalars(select(Message.body).where(Message.ticket_id == primary.id)))
    assert not any("Carlaguess" in body for body in bodies)
