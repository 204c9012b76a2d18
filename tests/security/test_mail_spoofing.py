"""Attacks through the inbound mail channel (issue 5): a spoofed reply From the victim, a forged
signature, a ticket number typed into a stranger's subject, addresses and line breaks smuggled into
headers, headers that look like ours, and two systems mailing each other for ever.

Every test looks where a user would: which ticket got a message, who received mail at the SMTP
server, and what the mail log says."""

from __future__ import annotations

from collections import Counter
from email.message import EmailMessage
from email.utils import getaddresses, make_msgid

import pytest
from sqlalchemy import select

from tests.factories import Persona, assign, make_admin, make_agent, make_customer, make_message, make_ticket
from tests.mail.inbound import SUPPORT, Inbox, mail, mail_settings, make_mailbox, outbound, run_jobs
from tests.mailserver import MailServer, mailserver
from ticketry.auth import service as auth_service
from ticketry.core.config import get_settings
from ticketry.core.db import Database
from ticketry.mail.log.models import Direction, MailLog, MailStatus
from ticketry.mail.outbound import ids
from ticketry.messages.models import Message
from ticketry.tickets.models import Ticket
from ticketry.tickets.repository import readable_tickets
from ticketry.users.models import User

__all__ = ["mail_settings", "mailserver"]

MALLORY = "mallory@evil.example"
EVIL = "evil@evil.example"
CARLA = "carla@customer.example"
SECRET_TITLE = "Board salaries 2026"
SECRET_TEXT = "The spreadsheet password is hunter2."


# --- helpers ------------------------------------------------------------------------------------


def tickets(db: Database) -> list[Ticket]:
    with db.unit_of_work(write=False) as session:
        return list(session.scalars(select(Ticket).order_by(Ticket.id)))


def ticket(db: Database, ticket_id: int) -> Ticket:
    with db.unit_of_work(write=False) as session:
        found = session.get(Ticket, ticket_id)
        assert found is not None
        return found


def messages(db: Database, ticket_id: int) -> list[Message]:
    with db.unit_of_work(write=False) as session:
        return list(
            session.scalars(select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id))
        )


def all_messages(db: Database) -> list[Message]:
    with db.unit_of_work(write=False) as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def inbound(db: Database) -> list[MailLog]:
    with db.unit_of_work(write=False) as session:
        return list(
            session.scalars(
                select(MailLog).where(MailLog.direction == Direction.INBOUND).order_by(MailLog.id)
            )
        )


def user(db: Database, email: str) -> User | None:
    with db.unit_of_work(write=False) as session:
        return session.scalars(select(User).where(User.email == email)).one_or_none()


def secret() -> str:
    return get_settings().secret_key


def signed_message_id(ticket_id: int, message_id: int = 0, *, key: str | None = None) -> str:
    return ids.message_id(key or secret(), "help.example.com", ticket_id=ticket_id, message_id=message_id)


def reply_address(ticket_id: int) -> str:
    return ids.reply_address(secret(), get_settings().mail_from, ticket_id=ticket_id)


def every_recipient(server: MailServer) -> set[str]:
    """Each address any delivered mail went to: the SMTP envelope and the To, Cc and Bcc headers."""
    found: set[str] = set()
    for received in server.messages:
        found.update(address.lower() for address in received.envelope_to)
        headers = [str(v) for name in ("To", "Cc", "Bcc") for v in received.message.get_all(name, [])]
        found.update(address.lower() for _, address in getaddresses(headers) if address)
    return found


def assert_one_recipient_each(server: MailServer) -> None:
    """Every mail we sent went to one person, named in its one To header."""
    for received in server.messages:
        message = received.message
        assert message.get_all("Cc") is None and message.get_all("Bcc") is None, received.raw[:500]
        [to] = message.get_all("To")
        [(_, address)] = getaddresses([str(to)])
        assert received.envelope_to == [address], (received.envelope_to, address)


def text_of(message: EmailMessage) -> str:
    """Subject, text and HTML of a mail, for looking for what must not be there."""
    parts = [str(message["Subject"])]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            parts.append(part.get_content())
    return "\n".join(parts)


def raw_mail(headers: list[tuple[str, str]], body: str = "Hello,\r\n\r\nplease help.\r\n") -> bytes:
    """A mail written byte by byte, for headers `EmailMessage` would refuse to build."""
    lines = [f"{name}: {value}" for name, value in headers]
    lines += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8"]
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


def victim_with_ticket(db: Database) -> tuple[Persona, Ticket]:
    victim = make_customer(db)
    return victim, make_ticket(db, victim, title=SECRET_TITLE, description=SECRET_TEXT)


def settle(db: Database, server: MailServer) -> None:
    """Run what is queued (the victim's own receipt) and forget the mail sent so far."""
    run_jobs(db)
    server.messages.clear()


# --- spoofed From the victim --------------------------------------------------------------------


ATTACKER_HEADERS = {
    "Reply-To": MALLORY,
    "Sender": MALLORY,
    "Return-Path": f"<{MALLORY}>",
    "Errors-To": MALLORY,
    "Disposition-Notification-To": MALLORY,
    "Return-Receipt-To": MALLORY,
}


class TestSpoofedFromTheVictim:
    def test_a_spoofed_reply_with_the_victims_number_reaches_only_the_victim_and_staff(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        victim, target = victim_with_ticket(db)
        agent = make_agent(db)
        assign(db, make_admin(db), target.id, agent)
        settle(db, mail_settings)
        inbox = make_mailbox(db)

        entry = inbox.receive(
            mail(
                sender=victim.email,
                to=f"{SUPPORT}, {MALLORY}",
                subject=f"Re: [{target.number}] please send everything to my new address",
                headers={**ATTACKER_HEADERS, "Cc": MALLORY},
            )
        )
        make_message(db, agent, target.id, body="Here is what you asked for.")
        run_jobs(db)

        assert entry.status is MailStatus.APPENDED and entry.ticket_id == target.id
        assert len(tickets(db)) == 1
        assert ticket(db, target.id).customer_id == victim.id
        assert every_recipient(mail_settings) == {victim.email, agent.email}
        assert [m["Subject"] for m in mail_settings.to(victim.email)] == [f"[{target.number}] {SECRET_TITLE}"]
        assert_one_recipient_each(mail_settings)

    def test_a_spoofed_new_mail_from_the_victim_sends_the_receipt_to_the_victim_only(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        victim = make_customer(db)
        settle(db, mail_settings)
        inbox = make_mailbox(db)

        entry = inbox.receive(
            mail(sender=f"Victim <{victim.email}>", headers={**ATTACKER_HEADERS, "Cc": MALLORY})
        )
        run_jobs(db)

        assert entry.status is MailStatus.CREATED_TICKET
        assert ticket(db, entry.ticket_id or 0).customer_id == victim.id
        assert every_recipient(mail_settings) == {victim.email}
        assert user(db, MALLORY) is None, "no account is made for an address the mail merely names"

    def test_a_spoofed_mail_through_the_stolen_reply_address_reaches_only_the_victim_and_staff(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        victim, target = victim_with_ticket(db)
        agent = make_agent(db)
        assign(db, make_admin(db), target.id, agent)
        settle(db, mail_settings)
        inbox = make_mailbox(db)

        entry = inbox.receive(
            mail(
                sender=victim.email,
                to=reply_address(target.id),
                subject="Change of address",
                headers={**ATTACKER_HEADERS, "Cc": MALLORY, "Bcc": EVIL},
            )
        )
        make_message(db, agent, target.id, body="Done.")
        run_jobs(db)

        assert entry.status is MailStatus.APPENDED and entry.ticket_id == target.id
        assert every_recipient(mail_settings) == {victim.email, agent.email}
        assert_one_recipient_each(mail_settings)

    def test_the_attacker_writing_through_the_stolen_reply_address_gains_no_view_of_the_ticket(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        victim, target = victim_with_ticket(db)
        agent = make_agent(db)
        settle(db, mail_settings)
        inbox = make_mailbox(db)

        entry = inbox.receive(mail(sender=MALLORY, to=reply_address(target.id), subject="Any news?"))
        make_message(db, agent, target.id, body="Here is the spreadsheet.")
        run_jobs(db)

        # A signed reply address lets its holder write on the ticket (a colleague in Cc), no more.
        assert entry.status is MailStatus.APPENDED and entry.ticket_id == target.id
        assert ticket(db, target.id).customer_id == victim.id
        assert every_recipient(mail_settings) == {victim.email}
        mallory = user(db, MALLORY)
        assert mallory is not None
        with db.unit_of_work(write=False) as session:
            actor = auth_service.actor_for(session, mallory)
            assert list(session.scalars(readable_tickets(actor))) == []

    def test_a_mail_spoofing_an_agent_is_held_and_reaches_no_customer(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        victim, target = victim_with_ticket(db)
        agent = make_agent(db)
        settle(db, mail_settings)
        inbox = make_mailbox(db)

        entry = inbox.receive(
            mail(
                sender=agent.email,
                subject=f"Re: [{target.number}] your refund",
                body="Please confirm your card number by replying to mallory@evil.example.",
                headers=ATTACKER_HEADERS,
            )
        )
        run_jobs(db)

        # Without its own signed reply address and a trusted result it is not the agent (issue 12).
        assert entry.status is MailStatus.HELD and entry.ticket_id is None
        assert messages(db, target.id) == []
        assert mail_settings.to(victim.email) == []
        assert MALLORY not in every_recipient(mail_settings)

    def test_the_mail_log_names_the_address_the_mail_came_from_not_one_in_its_display_name(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        victim = make_customer(db)
        inbox = make_mailbox(db)
        local, _, domain = victim.email.partition("@")

        entry = inbox.receive(mail(sender=f"=?utf-8?q?{local}=40{domain}?= <{MALLORY}>"))

        assert entry.status is MailStatus.CREATED_TICKET
        assert ticket(db, entry.ticket_id or 0).customer_id == user(db, MALLORY).id  # type: ignore[union-attr]
        assert entry.sender == MALLORY, "an admin reading the log must see who really wrote"


# --- forged delivery reports --------------------------------------------------------------------


def delivery_report(recipient: str, original_message_id: str) -> bytes:
    """An RFC 3464 report as anyone can write one: From a mailer daemon, naming a recipient."""
    boundary = "=_report"
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.evil.example>\r\n"
        f"To: {SUPPORT}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-ID: {make_msgid(domain='mx.evil.example')}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        f"\r\n--{boundary}\r\n"
        "Content-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        f"\r\n--{boundary}\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.evil.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        "Action: failed\r\n"
        "Status: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: User unknown\r\n"
        f"\r\n--{boundary}\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"From: {SUPPORT}\r\nTo: {recipient}\r\nSubject: Hello\r\n"
        f"Message-ID: {original_message_id}\r\n"
        f"\r\n--{boundary}--\r\n"
    ).encode()


class TestForgedDeliveryReport:
    def test_a_report_about_a_mail_we_never_sent_does_not_silence_the_victim(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        victim, target = victim_with_ticket(db)
        agent = make_agent(db)
        settle(db, mail_settings)
        inbox = make_mailbox(db)

        entry = inbox.receive(delivery_report(victim.email, "<made-up@evil.example>"))
        make_message(db, agent, target.id, body="Here is your answer.")
        run_jobs(db)

        assert entry.status is MailStatus.BOUNCE
        marked = user(db, victim.email)
        assert marked is not None and marked.email_undeliverable_at is None
        assert len(mail_settings.to(victim.email)) == 1, "the victim still gets the agent's answer"

    def test_a_report_answering_the_attackers_own_receipt_does_not_mark_the_victim(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        victim, target = victim_with_ticket(db)
        agent = make_agent(db)
        inbox = make_mailbox(db)
        inbox.receive(mail(sender=MALLORY, subject="My own ticket"))
        [receipt] = mail_settings.to(MALLORY)
        settle(db, mail_settings)

        entry = inbox.receive(delivery_report(victim.email, str(receipt["Message-ID"])))
        make_message(db, agent, target.id, body="Here is your answer.")
        run_jobs(db)

        assert entry.status is MailStatus.BOUNCE
        marked = user(db, victim.email)
        assert marked is not None and marked.email_undeliverable_at is None
        assert len(mail_settings.to(victim.email)) == 1


# --- forged signatures --------------------------------------------------------------------------


def _signature_of(message_id: str) -> str:
    return message_id.split(".")[3]  # <ticketry.t1.m0.<signature>.<random>@domain>


def _reply_signature_of(address: str) -> str:
    return address.partition("@")[0].rpartition(".")[2]  # support+t1.<signature>@domain


OTHER_KEY = "test-secret-key-of-another-desk"


def _forged_message_ids(own: int, target: int) -> dict[str, str]:
    """What Mallory can make from the signed ids of her own ticket, aimed at the victim's."""
    signature = _signature_of(signed_message_id(own))
    reply_signature = _reply_signature_of(reply_address(own))
    return {
        "zeros": f"<ticketry.t{target}.m0.{'0' * 20}.abcd1234@help.example.com>",
        "her signature, the victim's id": f"<ticketry.t{target}.m0.{signature}.abcd1234@help.example.com>",
        "her signature, another message": f"<ticketry.t{own}.m1.{signature}.abcd1234@help.example.com>",
        "signed with another desk's key": signed_message_id(target, key=OTHER_KEY),
        "her reply address's signature": f"<ticketry.t{own}.m0.{reply_signature}.abcd1234@help.example.com>",
        "a shortened signature": f"<ticketry.t{target}.m0.{signature[:10]}.abcd1234@help.example.com>",
    }


def _forged_reply_addresses(own: int, target: int) -> dict[str, str]:
    local, _, domain = SUPPORT.partition("@")
    signature = _reply_signature_of(reply_address(own))
    message_signature = _signature_of(signed_message_id(own))
    return {
        "zeros": f"{local}+t{target}.{'0' * 20}@{domain}",
        "her signature, the victim's id": f"{local}+t{target}.{signature}@{domain}",
        "no signature": f"{local}+t{target}@{domain}",
        "signed with another desk's key": ids.reply_address(
            OTHER_KEY, get_settings().mail_from, ticket_id=target
        ),
        "her Message-ID's signature": f"{local}+t{own}.{message_signature}@{domain}",
    }


FORGERIES = [
    "zeros",
    "her signature, the victim's id",
    "her signature, another message",
    "signed with another desk's key",
    "her reply address's signature",
    "a shortened signature",
]
ADDRESS_FORGERIES = [
    "zeros",
    "her signature, the victim's id",
    "no signature",
    "signed with another desk's key",
    "her Message-ID's signature",
]


class TestForgedSignature:
    @pytest.mark.parametrize("header", ["In-Reply-To", "References"])
    @pytest.mark.parametrize("forgery", FORGERIES)
    def test_a_forged_message_id_never_threads_onto_the_ticket_it_names(
        self, db: Database, mail_settings: MailServer, forgery: str, header: str
    ) -> None:
        victim, target = victim_with_ticket(db)
        inbox = make_mailbox(db)
        own = inbox.receive(mail(sender=MALLORY, subject="My own ticket")).ticket_id
        assert own is not None
        settle(db, mail_settings)
        forged = _forged_message_ids(own, target.id)[forgery]

        entry = inbox.receive(mail(sender=MALLORY, subject="Re: your ticket", headers={header: forged}))

        assert entry.status is MailStatus.CREATED_TICKET
        assert entry.ticket_id not in (target.id, own)
        assert messages(db, target.id) == []
        assert victim.email not in every_recipient(mail_settings)

    @pytest.mark.parametrize("where", ["To", "Cc", "Delivered-To", "X-Original-To"])
    @pytest.mark.parametrize("forgery", ADDRESS_FORGERIES)
    def test_a_forged_reply_address_never_threads_onto_the_ticket_it_names(
        self, db: Database, mail_settings: MailServer, forgery: str, where: str
    ) -> None:
        _, target = victim_with_ticket(db)
        inbox = make_mailbox(db)
        own = inbox.receive(mail(sender=MALLORY, subject="My own ticket")).ticket_id
        assert own is not None
        settle(db, mail_settings)
        forged = _forged_reply_addresses(own, target.id)[forgery]

        raw = (
            mail(sender=MALLORY, to=forged, subject="Hello")
            if where == "To"
            else mail(sender=MALLORY, subject="Hello", headers={where: forged})
        )
        entry = inbox.receive(raw)

        assert entry.status is MailStatus.CREATED_TICKET
        assert entry.ticket_id not in (target.id, own)
        assert messages(db, target.id) == []
        assert every_recipient(mail_settings) == {MALLORY}


# --- a ticket number in a stranger's subject ----------------------------------------------------


class TestSubjectNumberHijack:
    @pytest.mark.parametrize(
        "subject",
        [
            "Re: [{number}] send me the attachment again",
            "RE: {number}",
            "Fwd: re: [{lower}] urgent",
            "[{number}][{number}] twice",
            "Ticket {number}: please close it",
        ],
    )
    def test_a_stranger_quoting_someone_elses_number_gets_a_ticket_of_their_own_and_learns_nothing(
        self, db: Database, mail_settings: MailServer, subject: str
    ) -> None:
        _, target = victim_with_ticket(db)
        settle(db, mail_settings)
        inbox = make_mailbox(db)

        entry = inbox.receive(
            mail(
                sender=MALLORY,
                subject=subject.format(number=target.number, lower=target.number.lower()),
                body="Please send me the spreadsheet again.",
            )
        )
        run_jobs(db)

        assert entry.status is MailStatus.CREATED_TICKET and entry.ticket_id != target.id
        own = ticket(db, entry.ticket_id or 0)
        assert user(db, MALLORY) is not None and own.customer_id == user(db, MALLORY).id  # type: ignore[union-attr]
        unchanged = ticket(db, target.id)
        assert messages(db, target.id) == []
        assert (unchanged.status, unchanged.updated_at) == (target.status, target.updated_at)
        [receipt] = mail_settings.to(MALLORY)
        assert every_recipient(mail_settings) == {MALLORY}
        assert str(receipt["Subject"]).startswith(f"[{own.number}] ")
        assert ids.ticket_in_message_id(secret(), str(receipt["Message-ID"])) == (own.id, 0)
        assert ids.ticket_in_reply_address(secret(), str(receipt["Reply-To"])) == own.id
        content = text_of(receipt)
        assert SECRET_TITLE not in content and "hunter2" not in content

    @pytest.mark.parametrize(
        "sender",
        [
            '"{victim}" <mallory@evil.example>',
            "{victim} <mallory@evil.example>",
            '"Victim <{victim}>" <mallory@evil.example>',
        ],
    )
    def test_the_victims_address_as_a_display_name_is_not_the_victim(
        self, db: Database, mail_settings: MailServer, sender: str
    ) -> None:
        victim, target = victim_with_ticket(db)
        settle(db, mail_settings)
        inbox = make_mailbox(db)

        entry = inbox.receive(
            mail(sender=sender.format(victim=victim.email), subject=f"Re: [{target.number}] hi")
        )
        run_jobs(db)

        assert entry.status is MailStatus.CREATED_TICKET and entry.ticket_id != target.id
        assert messages(db, target.id) == []
        assert every_recipient(mail_settings) == {MALLORY}

    @pytest.mark.parametrize("header", ["Reply-To", "Sender", "Resent-From", "Return-Path"])
    def test_the_victims_address_in_another_sender_header_is_not_the_victim(
        self, db: Database, mail_settings: MailServer, header: str
    ) -> None:
        victim, target = victim_with_ticket(db)
        settle(db, mail_settings)
        inbox = make_mailbox(db)

        entry = inbox.receive(
            mail(
                sender=MALLORY,
                subject=f"Re: [{target.number}] hi",
                headers={header: f"<{victim.email}>" if header == "Return-Path" else victim.email},
            )
        )
        run_jobs(db)

        assert entry.status is MailStatus.CREATED_TICKET and entry.ticket_id != target.id
        assert messages(db, target.id) == []
        assert every_recipient(mail_settings) == {MALLORY}


# --- addresses and line breaks smuggled into headers --------------------------------------------


INJECTED_HEADERS = {
    "encoded CRLF in the subject": [
        ("From", f"Carla <{CARLA}>"),
        ("Subject", f"=?utf-8?q?x=0d=0aBcc:_{EVIL}?="),
    ],
    "encoded CRLF in the display name": [
        ("From", f"=?utf-8?q?Carla=0D=0ABcc:_{EVIL}=0D=0ACc:_{EVIL}?= <{CARLA}>"),
        ("Subject", "Printer"),
    ],
    "base64 CRLF in the display name": [
        ("From", f"=?utf-8?b?Q2FybGENCkJjYzogZXZpbEBldmlsLmV4YW1wbGU=?= <{CARLA}>"),
        ("Subject", "Printer"),
    ],
    "a folded subject that reads like a header": [
        ("From", f"Carla <{CARLA}>"),
        ("Subject", f"Printer\r\n Bcc: {EVIL}\r\n To: {EVIL}"),
    ],
    "an address as the display name": [
        ("From", f'"{EVIL}, {MALLORY}" <{CARLA}>'),
        ("Subject", "Printer"),
    ],
    "Unicode line separators": [
        ("From", f"=?utf-8?q?Carla=E2=80=A8Bcc:_{EVIL}?= <{CARLA}>"),
        ("Subject", f"=?utf-8?q?x=E2=80=A9Cc:_{EVIL}=C2=85To:_{EVIL}?="),
    ],
}


class TestCcInjection:
    def test_addresses_in_to_cc_and_bcc_never_receive_anything(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        agent = make_agent(db)
        inbox = make_mailbox(db)

        entry = inbox.receive(
            mail(
                sender=f"Carla <{CARLA}>",
                to=f"{SUPPORT}, Boss <boss@customer.example>, {EVIL}",
                headers={"Cc": f"{MALLORY}, Other <other@evil.example>", "Bcc": EVIL},
            )
        )
        assert entry.status is MailStatus.CREATED_TICKET
        make_message(db, agent, entry.ticket_id or 0, body="We are on it.")
        run_jobs(db)

        assert every_recipient(mail_settings) == {CARLA, agent.email}
        assert [str(m["Subject"]).split("] ", 1)[1] for m in mail_settings.to(CARLA)] == [
            "The printer is on fire",
            "The printer is on fire",
        ]
        assert_one_recipient_each(mail_settings)
        for address in (MALLORY, EVIL, "boss@customer.example", "other@evil.example"):
            assert user(db, address) is None

    @pytest.mark.parametrize("attempt", list(INJECTED_HEADERS))
    def test_a_line_break_smuggled_into_a_header_adds_no_recipient(
        self, db: Database, mail_settings: MailServer, attempt: str
    ) -> None:
        agent = make_agent(db)
        inbox = make_mailbox(db)

        entry = inbox.receive(
            raw_mail(
                [
                    *INJECTED_HEADERS[attempt],
                    ("To", SUPPORT),
                    ("Message-ID", make_msgid(domain="customer.example")),
                    ("Date", "Mon, 02 Mar 2026 10:00:00 +0000"),
                ]
            )
        )
        assert entry.status is MailStatus.CREATED_TICKET
        created = ticket(db, entry.ticket_id or 0)
        customer = user(db, CARLA)
        assert customer is not None and created.customer_id == customer.id
        for text in (created.title, customer.name):
            assert not any(ch in text for ch in "\r\n\x85\u2028\u2029"), repr(text)
        make_message(db, agent, created.id, body="We are on it.")
        run_jobs(db)

        assert every_recipient(mail_settings) == {CARLA, agent.email}
        assert len(mail_settings.to(CARLA)) == 2  # the receipt and the reply
        assert_one_recipient_each(mail_settings)
        for received in mail_settings.messages:
            head = received.raw.split(b"\r\n\r\n", 1)[0].lower()
            assert b"\nbcc:" not in head and b"\ncc:" not in head, head

    @pytest.mark.parametrize(
        "message_id",
        [
            "<folded.0123456789abcdef\r\n .0123456789abcdef@customer.example>",
            f"<injected@customer.example>\r\n Bcc: {EVIL}",
        ],
        ids=["folded inside the id", "a header after a fold"],
    )
    def test_a_line_break_in_the_message_id_stops_no_mail_about_the_ticket(
        self, db: Database, mail_settings: MailServer, message_id: str
    ) -> None:
        """The customer's Message-ID becomes the In-Reply-To of every mail about the ticket."""
        agent = make_agent(db)
        inbox = make_mailbox(db)

        entry = inbox.receive(
            raw_mail(
                [
                    ("From", f"Carla <{CARLA}>"),
                    ("To", SUPPORT),
                    ("Subject", "Printer"),
                    ("Message-ID", message_id),
                ]
            )
        )
        make_message(db, agent, entry.ticket_id or 0, body="We are on it.")
        run_jobs(db)

        assert entry.status is MailStatus.CREATED_TICKET
        assert len(mail_settings.to(CARLA)) == 2, "the receipt and the agent's reply"
        assert every_recipient(mail_settings) == {CARLA, agent.email}
        assert_one_recipient_each(mail_settings)
        for received in mail_settings.messages:
            assert "\n" not in str(received.message.get("In-Reply-To", ""))
        assert {m.status for m in outbound(db)} == {MailStatus.SENT}


# --- headers that look like ours ----------------------------------------------------------------


class TestUntrustedHeaders:
    @pytest.mark.parametrize(
        "headers",
        [
            {"X-Ticketry-Ticket": "{id}"},
            {"X-Ticketry-Ticket-Id": "{id}", "X-Ticketry-Number": "{number}"},
            {"X-Ticketry-Message-Id": "{message_id}", "X-Ticketry-Reply-To": "{reply}"},
            {"X-Ticketry-Staff": "yes", "X-Ticketry-Internal": "false", "X-Ticketry-Ticket": "{id}"},
        ],
    )
    def test_an_x_ticketry_header_naming_the_victims_ticket_threads_nothing(
        self, db: Database, mail_settings: MailServer, headers: dict[str, str]
    ) -> None:
        _, target = victim_with_ticket(db)
        settle(db, mail_settings)
        inbox = make_mailbox(db)
        values = {
            "id": str(target.id),
            "number": target.number,
            "message_id": signed_message_id(target.id),
            "reply": reply_address(target.id),
        }

        entry = inbox.receive(
            mail(
                sender=MALLORY,
                subject="Hello",
                headers={name: value.format(**values) for name, value in headers.items()},
            )
        )
        run_jobs(db)

        assert entry.status is MailStatus.CREATED_TICKET and entry.ticket_id != target.id
        assert messages(db, target.id) == []
        assert every_recipient(mail_settings) == {MALLORY}

    @pytest.mark.parametrize(
        "forged",
        [
            [("X-Spam-Status", "Yes, score=12.5 required=5.0"), ("X-Spam-Flag", "NO")],
            [("X-Spam-Flag", "YES"), ("X-Spam-Flag", "NO"), ("X-Spam-Status", "No, score=-5")],
        ],
    )
    def test_a_forged_no_spam_header_does_not_release_what_the_filter_flagged(
        self, db: Database, mail_settings: MailServer, forged: list[tuple[str, str]]
    ) -> None:
        """Our filter's verdict is on top (a relay prepends); the sender's own lines come after."""
        inbox = make_mailbox(db)

        entry = inbox.receive(
            raw_mail(
                [
                    *forged[:1],
                    ("From", f"Carla <{CARLA}>"),
                    ("To", SUPPORT),
                    ("Subject", "Cheap pills"),
                    ("Message-ID", make_msgid(domain="customer.example")),
                    ("Auto-Submitted", "no"),
                    *forged[1:],
                ]
            )
        )
        run_jobs(db)

        assert entry.status is MailStatus.SPAM_HELD and entry.reason
        assert tickets(db) == [] and mail_settings.messages == []

    @pytest.mark.parametrize(
        "headers",
        [
            {"Auto-Submitted": "no", "X-Autoreply": "yes"},
            {"Auto-Submitted": "no", "Precedence": "auto_reply"},
            {"Auto-Submitted": "no", "X-Autorespond": "Out of office"},
            {"Auto-Submitted": "No", "List-Id": "<announce.customer.example>"},
        ],
    )
    def test_auto_submitted_no_does_not_outweigh_the_other_automatic_markers(
        self, db: Database, mail_settings: MailServer, headers: dict[str, str]
    ) -> None:
        inbox = make_mailbox(db)

        entry = inbox.receive(mail(headers=headers))
        run_jobs(db)

        assert entry.status is MailStatus.AUTO_REPLY and entry.reason
        assert tickets(db) == [] and mail_settings.messages == []


# --- mail loops ---------------------------------------------------------------------------------


def out_of_office(answering: EmailMessage, *, sender: str = CARLA, marked: bool = True) -> bytes:
    """The customer's auto-responder answering one of our mails, at its Reply-To."""
    headers = {"Auto-Submitted": "auto-replied", "X-Autoreply": "yes"} if marked else {}
    return mail(
        sender=sender,
        to=str(answering["Reply-To"]),
        subject=f"Automatic reply: {answering['Subject']}",
        body="I am out of the office until Monday.",
        in_reply_to=str(answering["Message-ID"]),
        references=str(answering["Message-ID"]),
        headers=headers,
    )


def resent(raw: bytes, *, by: Inbox, to: Inbox) -> bytes:
    """What a forwarding rule sends: the mail inside a new one, From the mailbox that forwards."""
    return mail(
        sender=f"Forwarder <{by.address}>",
        to=to.address,
        subject="Fwd: The printer is on fire",
        body="---------- Forwarded message ---------\n" + raw.decode(errors="replace")[:2000],
    )


class TestMailLoop:
    def test_two_mailboxes_forwarding_to_each_other_stay_bounded(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        a, b = make_mailbox(db), make_mailbox(db)
        first = mail(sender=f"Carla <{CARLA}>", message_id="<start@customer.example>")
        a.receive(first)
        [receipt] = mail_settings.to(CARLA)

        delivered, here = first, a
        for round_ in range(20):
            there = b if here is a else a
            if round_ % 3 == 0:
                passed_on = delivered  # forwarded as it is, same Message-ID
            elif round_ % 3 == 1:
                passed_on = resent(delivered, by=here, to=there)  # re-sent, a new Message-ID
            else:
                passed_on = out_of_office(receipt)  # the customer's auto-responder chimes in
            there.receive(passed_on)
            delivered, here = passed_on, there

        log = inbound(db)
        assert len(log) == 21
        assert [t.title for t in tickets(db)] == ["The printer is on fire"]
        assert all_messages(db) == []
        assert [(m.purpose, m.recipients) for m in outbound(db)] == [("ticket_received", CARLA)]
        assert every_recipient(mail_settings) == {CARLA}
        assert log[0].status is MailStatus.CREATED_TICKET
        assert Counter(e.status for e in log[1:]) == {
            MailStatus.DUPLICATE: 1,  # round 0: the customer's mail itself
            MailStatus.LOOP: 7,  # rounds 1, 4, …, 19: From a mailbox of ours
            MailStatus.AUTO_REPLY: 12,  # the auto-replies, and them forwarded again
        }
        assert all(e.reason for e in log[1:])

    def test_the_same_mail_passed_back_and_forth_is_one_ticket_and_duplicates(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        a, b = make_mailbox(db), make_mailbox(db)
        first = mail(sender=f"Carla <{CARLA}>", message_id="<start@customer.example>")

        log = [(a if round_ % 2 == 0 else b).receive(first) for round_ in range(21)]

        assert [t.title for t in tickets(db)] == ["The printer is on fire"]
        assert all_messages(db) == []
        assert [m.purpose for m in outbound(db)] == ["ticket_received"]
        assert log[0].status is MailStatus.CREATED_TICKET
        assert {e.status for e in log[1:]} == {MailStatus.DUPLICATE}
        assert {e.ticket_id for e in log} == {log[0].ticket_id}
        assert all("<start@customer.example>" in e.reason for e in log[1:])

    def test_a_forwarder_that_keeps_the_customers_from_is_cut_off_by_the_hourly_limit(
        self, db: Database, mail_settings: MailServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TICKETRY_MAIL_MAX_PER_SENDER_PER_HOUR", "5")
        get_settings.cache_clear()
        a, b = make_mailbox(db), make_mailbox(db)
        a.receive(mail(message_id="<start@customer.example>"))

        for round_ in range(20):
            # Each pass re-sends the customer's mail under a new Message-ID, still answering the first.
            (b if round_ % 2 == 0 else a).receive(
                mail(subject="Fwd: The printer is on fire", references="<start@customer.example>")
            )

        log = inbound(db)
        [only] = tickets(db)
        assert len(messages(db, only.id)) == 4
        assert Counter(e.status for e in log) == {
            MailStatus.CREATED_TICKET: 1,
            MailStatus.APPENDED: 4,
            MailStatus.LOOP: 16,
        }
        assert all("loop" in e.reason for e in log if e.status is MailStatus.LOOP)
        assert [m.purpose for m in outbound(db)] == ["ticket_received"]

    def test_our_receipt_sent_back_by_a_forwarder_that_rewrites_from_is_a_loop(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        a, b = make_mailbox(db), make_mailbox(db)
        a.receive(mail(sender=f"Carla <{CARLA}>"))
        [receipt] = mail_settings.messages

        # Carla's address forwards to a group that re-sends as itself (Google Groups style),
        # keeping our Message-ID; the group is subscribed to mailbox B.
        forwarded = receipt.raw.replace(
            b"From: Example Support <support@help.example.com>",
            b"From: \"'Example Support' via Team\" <team@customer.example>",
        )
        assert forwarded != receipt.raw
        entries = [(b if n % 2 else a).receive(forwarded) for n in range(4)]

        assert {e.status for e in entries} == {MailStatus.LOOP}
        assert all("Message-ID" in e.reason for e in entries)
        assert len(tickets(db)) == 1 and all_messages(db) == []
        assert len(outbound(db)) == 1

    def test_an_address_in_an_encoded_display_name_does_not_escape_the_hourly_limit(
        self, db: Database, mail_settings: MailServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TICKETRY_MAIL_MAX_PER_SENDER_PER_HOUR", "3")
        get_settings.cache_clear()
        inbox = make_mailbox(db)
        robot = "robot@customer.example"

        log = [
            inbox.receive(
                mail(sender=f"=?utf-8?q?desk=40other.example?= <{robot}>", subject=f"Ticket {n} received")
            )
            for n in range(6)
        ]

        assert [e.status for e in log] == [MailStatus.CREATED_TICKET] * 3 + [MailStatus.LOOP] * 3
        assert len(tickets(db)) == 3
        assert [m.recipients for m in outbound(db)] == [robot] * 3


class TestAutoResponderPingPong:
    @pytest.mark.parametrize(
        "headers",
        [
            {"Auto-Submitted": "auto-replied"},
            {"Auto-Submitted": "auto-generated"},
            {"X-Autoreply": "yes"},
            {"Precedence": "auto_reply"},
            {"Precedence": "bulk", "X-Auto-Response-Suppress": "All"},
            {"Return-Path": "<>"},
        ],
    )
    def test_an_out_of_office_answering_our_receipt_gets_no_answer(
        self, db: Database, mail_settings: MailServer, headers: dict[str, str]
    ) -> None:
        inbox = make_mailbox(db)
        inbox.receive(mail(sender=f"Carla <{CARLA}>"))
        [receipt] = mail_settings.to(CARLA)
        assert receipt["Auto-Submitted"] == "auto-replied"
        assert receipt["X-Auto-Response-Suppress"] == "All"

        entries = [
            inbox.receive(
                mail(
                    sender=CARLA,
                    to=str(receipt["Reply-To"]),
                    subject=f"Automatic reply: {receipt['Subject']}",
                    in_reply_to=str(receipt["Message-ID"]),
                    headers=headers,
                )
            )
            for _ in range(5)
        ]

        assert {e.status for e in entries} == {MailStatus.AUTO_REPLY}
        assert all(e.reason for e in entries)
        assert len(outbound(db)) == 1 and len(mail_settings.messages) == 1
        assert all_messages(db) == []

    def test_an_auto_responder_that_does_not_say_so_still_gets_no_answer(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        inbox = make_mailbox(db)
        inbox.receive(mail(sender=f"Carla <{CARLA}>"))
        [receipt] = mail_settings.to(CARLA)

        entries = [inbox.receive(out_of_office(receipt, marked=False)) for _ in range(3)]

        # Nothing tells it from a person: it is kept on the ticket, and a customer's reply is
        # never confirmed by mail.
        assert {e.status for e in entries} == {MailStatus.APPENDED}
        assert len(tickets(db)) == 1
        assert len(outbound(db)) == 1 and len(mail_settings.messages) == 1
