"""Mail that lies about who wrote it (issue 12 items 2 and 3; docs/product.md §4: "a mail acts for a person
only as far as it is authenticated").

The attacks: a forged staff From with a ticket number (CWE-290, authentication bypass by
spoofing: "From: the admin" was an internal note by the admin on any ticket); a stranger writing
to a ticket's reply address or quoting a Message-ID of the ticket (the "ticket trick", CWE-284:
a third party's verification code shown in the customer's conversation); a forged customer From
that the receiving server says fails DMARC (CWE-290). Each test looks where a user would: the
ticket's messages as the customer reads them (API and portal), the mail log, and the desk.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import (
    Persona,
    make_admin,
    make_agent,
    make_customer,
    make_organization,
    make_ticket,
    web_session,
)
from tests.mail.inbound import SUPPORT, Inbox, mail, mail_settings, make_mailbox, run_jobs
from tests.mailserver import MailServer, mailserver
from ticketry.core.config import get_settings
from ticketry.core.db import Database
from ticketry.mail.log.models import MailLog, MailStatus
from ticketry.mail.outbound import ids
from ticketry.messages.models import Message
from ticketry.tickets.models import Ticket, TicketParticipant, TicketStatus
from ticketry.users.models import User

__all__ = ["mail_settings", "mailserver"]

OUR_MX = "mx.help.example.com"
CODE = "Your verification code is 482910"
STRANGER = "Noreply Service <accounts@service.example>"


@pytest.fixture
def trusted(monkeypatch: pytest.MonkeyPatch, mail_settings: MailServer) -> Iterator[MailServer]:
    """Our MX adds Authentication-Results as `mx.help.example.com`, and Ticketry believes it."""
    monkeypatch.setenv("TICKETRY_MAIL_TRUSTED_AUTHSERV_IDS", OUR_MX)
    get_settings.cache_clear()
    yield mail_settings
    get_settings.cache_clear()


def results(verdict: str, domain: str = "example.test", *, server: str = OUR_MX) -> dict[str, str]:
    """An Authentication-Results header as a receiving server writes it."""
    return {
        "Authentication-Results": f"{server}; spf=none smtp.mailfrom={domain}; "
        f"dkim={verdict} header.d={domain}; dmarc={verdict} (p=reject) header.from={domain}"
    }


def reply_address(ticket: Ticket, person: Persona | None = None) -> str:
    settings = get_settings()
    user_id = person.id if person is not None else None
    return ids.reply_address(settings.secret_key, settings.mail_from, ticket_id=ticket.id, user_id=user_id)


def messages(db: Database, ticket_id: int) -> list[Message]:
    with db.unit_of_work(write=False) as session:
        return list(
            session.scalars(select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id))
        )


def tickets(db: Database) -> list[Ticket]:
    with db.unit_of_work(write=False) as session:
        return list(session.scalars(select(Ticket).order_by(Ticket.id)))


def participant_emails(db: Database, ticket_id: int) -> set[str]:
    with db.unit_of_work(write=False) as session:
        rows = session.execute(
            select(User.email)
            .join(TicketParticipant, TicketParticipant.user_id == User.id)
            .where(TicketParticipant.ticket_id == ticket_id)
        )
        return set(rows.scalars())


def customer_reads(client: TestClient, customer: Persona, ticket_id: int) -> str:
    """Everything the customer's side shows of the ticket: the API's conversation and the portal."""
    replies = client.get(f"/api/v1/tickets/{ticket_id}/replies", headers=customer.headers)
    assert replies.status_code == 200, replies.text
    db: Database = client.app.state.db  # type: ignore[attr-defined]
    cookie, _ = web_session(db, customer)
    client.cookies.set("ticketry_session", cookie)
    page = client.get(f"/tickets/{ticket_id}")
    client.cookies.clear()
    assert page.status_code == 200, page.text
    return replies.text + page.text


def held_entries(db: Database) -> list[MailLog]:
    with db.unit_of_work(write=False) as session:
        return list(session.scalars(select(MailLog).where(MailLog.status == MailStatus.HELD)))


def scene(db: Database) -> tuple[Persona, Persona, Ticket, Inbox]:
    customer = make_customer(db)
    agent = make_agent(db)
    ticket = make_ticket(db, customer, title="Printer on fire")
    run_jobs(db)
    return customer, agent, ticket, make_mailbox(db)


# --- staff by mail ------------------------------------------------------------------------------


class TestStaffByMail:
    def test_a_forged_agent_address_with_a_ticket_number_is_held_never_a_note(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        """CWE-290 spoofing (issue 12 item 2): `From:` an agent plus a ticket number used to become
        an internal note by that agent."""
        _, agent, ticket, inbox = scene(db)
        entry = inbox.receive(
            mail(sender=agent.email, subject=f"Re: [{ticket.number}] refund approved", body="Approved.")
        )
        assert entry.status is MailStatus.HELD
        assert agent.email in entry.reason and "signed reply address" in entry.reason
        assert messages(db, ticket.id) == []

    def test_a_forged_admin_address_cannot_write_on_any_ticket_even_with_a_signed_message_id(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        """CWE-290: an admin sees every ticket, so a forged admin From reached any number."""
        _, _, ticket, inbox = scene(db)
        admin = make_admin(db)
        signed = ids.message_id(get_settings().secret_key, "help.example.com", ticket_id=ticket.id)
        entry = inbox.receive(mail(sender=admin.email, in_reply_to=signed, subject="Close this"))
        assert entry.status is MailStatus.HELD
        assert messages(db, ticket.id) == []

    def test_an_agent_answering_at_their_own_address_with_a_trusted_pass_writes_a_note(
        self, db: Database, trusted: MailServer
    ) -> None:
        _, agent, ticket, inbox = scene(db)
        entry = inbox.receive(
            mail(
                sender=agent.email,
                to=reply_address(ticket, agent),
                subject=f"Re: [{ticket.number}] Printer on fire",
                body="Checked with the vendor.",
                headers=results("pass"),
            )
        )
        assert entry.status is MailStatus.APPENDED, entry.reason
        [note] = messages(db, ticket.id)
        assert note.is_internal and note.author_id == agent.id and note.held_reason is None

    def test_the_agents_own_address_without_a_trusted_result_is_held(
        self, db: Database, trusted: MailServer
    ) -> None:
        """Whoever sees a notification sees the agent's reply address: it is not proof alone."""
        _, agent, ticket, inbox = scene(db)
        entry = inbox.receive(mail(sender=agent.email, to=reply_address(ticket, agent), body="Done."))
        assert entry.status is MailStatus.HELD and "vouches" in entry.reason
        assert messages(db, ticket.id) == []

    def test_another_persons_reply_address_does_not_make_an_agents_mail_a_note(
        self, db: Database, trusted: MailServer
    ) -> None:
        customer, agent, ticket, inbox = scene(db)
        entry = inbox.receive(
            mail(sender=agent.email, to=reply_address(ticket, customer), headers=results("pass"))
        )
        assert entry.status is MailStatus.HELD and "own signed reply address" in entry.reason
        assert messages(db, ticket.id) == []

    def test_an_authentication_result_the_sender_wrote_is_not_believed(
        self, db: Database, trusted: MailServer
    ) -> None:
        """Anyone can write `Authentication-Results: …; dmarc=pass`. Only the trusted server's
        counts, and only the topmost (the one our MX added above whatever the sender wrote)."""
        _, agent, ticket, inbox = scene(db)
        untrusted = inbox.receive(
            mail(
                sender=agent.email,
                to=reply_address(ticket, agent),
                headers=results("pass", server="mx.evil.example"),
            )
        )
        ours_on_top = (
            b"Authentication-Results: "
            + OUR_MX.encode()
            + b"; dmarc=fail header.from=example.test\r\n"
            + mail(sender=agent.email, to=reply_address(ticket, agent), headers=results("pass"))
        )
        below = inbox.receive(ours_on_top)
        assert untrusted.status is MailStatus.HELD
        assert below.status is MailStatus.HELD and "dmarc=fail" in below.reason
        assert messages(db, ticket.id) == []

    def test_with_the_address_policy_the_agents_own_address_is_enough(
        self, db: Database, mail_settings: MailServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TICKETRY_MAIL_STAFF_AUTH", "address")
        get_settings.cache_clear()
        _, agent, ticket, inbox = scene(db)
        forged = inbox.receive(mail(sender=agent.email, subject=f"[{ticket.number}] x"))
        own = inbox.receive(mail(sender=agent.email, to=reply_address(ticket, agent), body="On it."))
        assert forged.status is MailStatus.HELD
        assert own.status is MailStatus.APPENDED
        [note] = messages(db, ticket.id)
        assert note.is_internal and note.author_id == agent.id

    def test_an_admin_releases_a_held_staff_mail_and_it_becomes_the_note(
        self, db: Database, client: TestClient, mail_settings: MailServer
    ) -> None:
        _, agent, ticket, inbox = scene(db)
        admin = make_admin(db)
        entry = inbox.receive(mail(sender=agent.email, subject=f"Re: [{ticket.number}] x", body="Real."))
        assert entry.status is MailStatus.HELD
        response = client.post(f"/api/v1/mail/log/{entry.id}/reprocess", headers=admin.headers)
        assert response.status_code == 202, response.text
        run_jobs(db)
        [note] = messages(db, ticket.id)
        assert note.is_internal and note.author_id == agent.id and note.body.startswith("Real.")


# --- outsiders: the ticket trick ----------------------------------------------------------------


class TestOutsiders:
    def test_a_stranger_writing_to_the_tickets_reply_address_is_held_for_staff_only(
        self, db: Database, client: TestClient, mail_settings: MailServer
    ) -> None:
        """The ticket trick (CWE-284): a service mails its verification code to the ticket's
        reply address, and the code showed in the customer's conversation."""
        customer, agent, ticket, inbox = scene(db)
        mail_settings.messages.clear()
        entry = inbox.receive(
            mail(sender=STRANGER, to=reply_address(ticket, customer), subject="Verify", body=CODE)
        )
        assert entry.status is MailStatus.APPENDED and "not a participant" in entry.reason
        [held] = messages(db, ticket.id)
        assert held.is_internal and held.held_reason and not held.is_staff_reply
        assert CODE not in customer_reads(client, customer, ticket.id)
        assert all(CODE not in str(m.message) for m in mail_settings.to(customer.email))
        staff = client.get(f"/api/v1/tickets/{ticket.id}/replies", headers=agent.headers).json()["data"]
        assert [m["heldReason"] is not None for m in staff] == [True]
        assert tickets(db)[0].status is TicketStatus.OPEN, "held mail changes no status"

    def test_the_older_per_ticket_reply_address_holds_a_stranger_too(
        self, db: Database, client: TestClient, mail_settings: MailServer
    ) -> None:
        customer, _, ticket, inbox = scene(db)
        inbox.receive(mail(sender=STRANGER, to=reply_address(ticket), body=CODE))
        [held] = messages(db, ticket.id)
        assert held.held_reason is not None
        assert CODE not in customer_reads(client, customer, ticket.id)

    def test_quoting_a_message_id_of_the_ticket_does_not_let_a_stranger_in(
        self, db: Database, client: TestClient, mail_settings: MailServer
    ) -> None:
        customer = make_customer(db)
        inbox = make_mailbox(db)
        first = inbox.receive(mail(sender=customer.email, message_id="<first@example.test>"))
        assert first.status is MailStatus.CREATED_TICKET
        entry = inbox.receive(mail(sender=STRANGER, references="<first@example.test>", body=CODE))
        assert entry.status is MailStatus.APPENDED and entry.ticket_id == first.ticket_id
        [held] = messages(db, first.ticket_id or 0)
        assert held.held_reason is not None
        assert CODE not in customer_reads(client, customer, first.ticket_id or 0)

    def test_an_agent_accepts_held_mail_and_its_sender_then_takes_part(
        self, db: Database, client: TestClient, mail_settings: MailServer
    ) -> None:
        customer, agent, ticket, inbox = scene(db)
        inbox.receive(
            mail(sender="Colleague <colleague@example.test>", to=reply_address(ticket), body="Me too.")
        )
        [held] = messages(db, ticket.id)
        response = client.post(f"/api/v1/tickets/{ticket.id}/replies/{held.id}/accept", headers=agent.headers)
        assert response.status_code == 200, response.text
        assert response.json()["heldReason"] is None and response.json()["isInternal"] is False
        assert "Me too." in customer_reads(client, customer, ticket.id)
        assert participant_emails(db, ticket.id) == {"colleague@example.test"}
        again = inbox.receive(
            mail(sender="colleague@example.test", to=reply_address(ticket), body="Still broken here.")
        )
        assert "Held" not in again.reason
        latest = messages(db, ticket.id)[-1]
        assert not latest.is_internal and latest.held_reason is None
        second = client.post(f"/api/v1/tickets/{ticket.id}/replies/{held.id}/accept", headers=agent.headers)
        assert second.status_code == 409 and second.json()["error"]["code"] == "message_not_held"

    def test_only_staff_who_see_the_ticket_accept_held_mail(
        self, db: Database, client: TestClient, mail_settings: MailServer
    ) -> None:
        customer, _, ticket, inbox = scene(db)
        outsider_agent = make_agent(db, departments=("billing",))
        inbox.receive(mail(sender=STRANGER, to=reply_address(ticket), body=CODE))
        [held] = messages(db, ticket.id)
        path = f"/api/v1/tickets/{ticket.id}/replies/{held.id}/accept"
        assert client.post(path, headers=customer.headers).status_code == 404
        assert client.post(path, headers=outsider_agent.headers).status_code == 404
        assert messages(db, ticket.id)[0].held_reason is not None

    def test_a_removed_participants_mail_is_held_again(
        self, db: Database, client: TestClient, mail_settings: MailServer
    ) -> None:
        _, agent, ticket, inbox = scene(db)
        added = client.post(
            f"/api/v1/tickets/{ticket.id}/participants",
            json={"email": "partner@example.test"},
            headers=agent.headers,
        )
        assert added.status_code == 201, added.text
        user_id = added.json()["user"]["id"]
        inbox.receive(mail(sender="partner@example.test", to=reply_address(ticket), body="First."))
        removed = client.delete(f"/api/v1/tickets/{ticket.id}/participants/{user_id}", headers=agent.headers)
        assert removed.status_code == 204
        inbox.receive(mail(sender="partner@example.test", to=reply_address(ticket), body="Second."))
        first, second = messages(db, ticket.id)
        assert first.held_reason is None and second.held_reason is not None

    def test_people_the_customer_copied_take_part_only_when_the_mail_is_proven(
        self, db: Database, trusted: MailServer
    ) -> None:
        """A forged From of the customer with a Cc must not make its writer a participant."""
        customer = make_customer(db)
        inbox = make_mailbox(db)
        copied = {"Cc": "Boss <boss@example.test>, no-reply@service.example"}
        proven = inbox.receive(
            mail(
                sender=customer.email,
                message_id="<start@example.test>",
                headers={**copied, **results("pass")},
            )
        )
        forged = inbox.receive(mail(sender=customer.email, headers={"Cc": "mallory@evil.example"}))
        assert participant_emails(db, proven.ticket_id or 0) == {"boss@example.test"}
        assert participant_emails(db, forged.ticket_id or 0) == set()
        ticket_id = proven.ticket_id or 0
        with db.unit_of_work(write=False) as session:
            ticket = session.get(Ticket, ticket_id)
            assert ticket is not None
        # A reply-all quotes the thread's mail and joins; the same person writing out of the blue
        # (or a service at that address: the ticket trick) is held.
        reply = inbox.receive(
            mail(
                sender="boss@example.test",
                to=reply_address(ticket),
                references="<start@example.test>",
                body="Approved.",
            )
        )
        assert reply.status is MailStatus.APPENDED and "Held" not in reply.reason
        unthreaded = inbox.receive(mail(sender="boss@example.test", to=reply_address(ticket), body="Code 1"))
        assert "copied in by the customer" in unthreaded.reason

    def test_a_colleague_of_a_shared_organization_takes_part_and_of_a_private_one_does_not(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        shared, private = make_organization(db, shared=True), make_organization(db, shared=False)
        inbox = make_mailbox(db)
        results_by_org = []
        for organization in (shared, private):
            customer = make_customer(db, organization_id=organization)
            colleague = make_customer(db, organization_id=organization)
            ticket = make_ticket(db, customer)
            inbox.receive(mail(sender=colleague.email, to=reply_address(ticket), body="Same here."))
            [message] = messages(db, ticket.id)
            results_by_org.append(message.held_reason is None)
        assert results_by_org == [True, False]

    def test_a_stranger_writing_to_a_closed_ticket_opens_a_ticket_of_their_own_unlinked(
        self, db: Database, client: TestClient, mail_settings: MailServer
    ) -> None:
        customer, agent, ticket, inbox = scene(db)
        client.post(f"/api/v1/tickets/{ticket.id}/close", headers=customer.headers)
        entry = inbox.receive(mail(sender=STRANGER, to=reply_address(ticket), body=CODE))
        assert entry.status is MailStatus.CREATED_TICKET and entry.ticket_id != ticket.id
        assert ticket.number not in entry.reason
        history = client.get(f"/api/v1/tickets/{entry.ticket_id}/history", headers=agent.headers).json()
        assert all(event["field"] != "follow_up_of" for event in history["data"])


# --- forged customers ---------------------------------------------------------------------------


class TestForgedCustomer:
    def test_a_customer_reply_that_fails_dmarc_at_our_server_is_held(
        self, db: Database, client: TestClient, trusted: MailServer
    ) -> None:
        """CWE-290: a forged From of the customer, which our MX marked `dmarc=fail`, was appended
        as the customer."""
        customer, _, ticket, inbox = scene(db)
        entry = inbox.receive(
            mail(
                sender=customer.email, to=reply_address(ticket, customer), body=CODE, headers=results("fail")
            )
        )
        assert entry.status is MailStatus.APPENDED and "dmarc=fail" in entry.reason
        [held] = messages(db, ticket.id)
        assert held.held_reason is not None and held.author_id == customer.id
        assert CODE not in customer_reads(client, customer, ticket.id)

    def test_a_new_ticket_in_a_customers_name_that_fails_dmarc_waits_for_an_admin(
        self, db: Database, trusted: MailServer
    ) -> None:
        customer = make_customer(db)
        inbox = make_mailbox(db)
        entry = inbox.receive(mail(sender=customer.email, headers=results("fail")))
        assert entry.status is MailStatus.HELD and "dmarc=fail" in entry.reason
        assert tickets(db) == [] and [e.id for e in held_entries(db)] == [entry.id]

    def test_a_passing_customer_reply_joins_as_usual(self, db: Database, trusted: MailServer) -> None:
        customer, _, ticket, inbox = scene(db)
        entry = inbox.receive(mail(sender=customer.email, to=reply_address(ticket), headers=results("pass")))
        [message] = messages(db, ticket.id)
        assert entry.status is MailStatus.APPENDED and message.held_reason is None

    def test_with_the_pass_policy_unproven_customer_mail_is_held(
        self, db: Database, trusted: MailServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TICKETRY_MAIL_CUSTOMER_AUTH", "pass")
        get_settings.cache_clear()
        customer, _, ticket, inbox = scene(db)
        inbox.receive(mail(sender=customer.email, to=reply_address(ticket, customer)))
        opening = inbox.receive(mail(sender=customer.email, subject="Another problem"))
        [held] = messages(db, ticket.id)
        assert held.held_reason is not None and "not proven" in held.held_reason
        assert opening.status is MailStatus.HELD


def test_the_support_address_itself_is_no_participant(db: Database, mail_settings: MailServer) -> None:
    """Our own address in a customer's Cc is not a person taking part (and would be a loop)."""
    customer = make_customer(db)
    inbox = make_mailbox(db)
    entry = inbox.receive(mail(sender=customer.email, headers={"Cc": f"Support <{SUPPORT}>"}))
    assert participant_emails(db, entry.ticket_id or 0) == set()
