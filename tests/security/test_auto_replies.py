"""Auto-replies and mail loops through real ingest (issue 12 item 10; docs/product.md §4: "auto-replies,
bounces and mail loops never create tickets or trigger replies").

The attack class is the mail loop (CWE-400, uncontrolled resource consumption, via CWE-834
excessive iteration): a vacation responder, an Exchange inbox rule or a list manager answers the
helpdesk's receipt, the helpdesk opens a ticket for the answer and sends another receipt, and
the two systems mail each other until a quota stops them, burying the desk in tickets. Every
header below is what a real system sends on mail it wrote by itself; each must be recognised,
create nothing, send nothing, and leave the reason in the mail log."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.mail.inbound import SUPPORT, mail, mail_settings, make_mailbox, outbound
from tests.mailserver import MailServer, mailserver
from ticketry.core.db import Database
from ticketry.mail.log.models import MailStatus
from ticketry.tickets.models import Ticket

__all__ = ["mail_settings", "mailserver"]

# (header, value, what the mail log must say): the value each system really writes.
AUTOMATIC = [
    ("X-Loop", "owner-announce@lists.example.org", "X-Loop"),  # list managers, procmail
    ("X-Loop", "yes", "X-Loop"),
    ("X-Precedence", "bulk", "X-Precedence: bulk"),  # some list servers and responders
    ("X-Precedence", "auto_reply", "X-Precedence: auto_reply"),
    ("X-AutoReply-From", "carla@customer.example", "X-AutoReply-From"),  # Exim's autoreply transport
    ("X-Mail-Autoreply", "dtc-autoreply", "X-Mail-Autoreply"),  # DTC and other vacation programs
    ("X-Autoreply", "yes", "X-Autoreply"),
    ("X-Autorespond", "Out of office", "X-Autorespond"),
    ("X-Auto-Response-Suppress", "All", "X-Auto-Response-Suppress"),  # Exchange, on its own OOF replies
    ("X-MS-Exchange-Generated-Message-Source", "Mailbox Rules Agent", "X-MS-Exchange-Generated"),
    ("X-MS-Exchange-Inbox-Rules-Loop", "carla@customer.example", "X-MS-Exchange-Inbox-Rules-Loop"),
    ("X-FC-MachineGenerated", "true", "X-FC-MachineGenerated"),  # FirstClass
    ("X-AMAZON-MAIL-RELAY-TYPE", "notification", "X-Amazon-Mail-Relay-Type"),  # Amazon notifications
    ("Auto-Submitted", "auto-generated", "Auto-Submitted"),  # RFC 3834
    ("Precedence", "junk", "Precedence: junk"),
]


def ticket_count(db: Database) -> int:
    with db.unit_of_work(write=False) as session:
        return session.scalar(select(func.count()).select_from(Ticket)) or 0


class TestAutomaticMail:
    @pytest.mark.parametrize(
        ("header", "value", "reason"), AUTOMATIC, ids=[f"{h}:{v}" for h, v, _ in AUTOMATIC]
    )
    def test_automatic_mail_creates_no_ticket_and_is_logged_why(
        self, db: Database, mail_settings: MailServer, header: str, value: str, reason: str
    ) -> None:
        """A mail a program wrote (CWE-400 mail loop) is held as an auto-reply: no ticket, no receipt."""
        inbox = make_mailbox(db)
        entry = inbox.receive(mail(subject="Automatic reply: away", headers={header: value}))

        assert entry.status is MailStatus.AUTO_REPLY
        assert reason.lower() in entry.reason.lower()
        assert ticket_count(db) == 0
        assert outbound(db) == []
        assert mail_settings.messages == []

    @pytest.mark.parametrize("header", ["X-Loop", "X-MS-Exchange-Inbox-Rules-Loop"])
    def test_a_loop_header_naming_our_own_address_is_a_loop(
        self, db: Database, mail_settings: MailServer, header: str
    ) -> None:
        """Our address in X-Loop: the mail has already passed through this helpdesk (CWE-400 mail loop)."""
        inbox = make_mailbox(db)
        entry = inbox.receive(mail(headers={header: f"Support <{SUPPORT.upper()}>"}))

        assert entry.status is MailStatus.LOOP
        assert SUPPORT in entry.reason and header in entry.reason
        assert ticket_count(db) == 0
        assert mail_settings.messages == []

    @pytest.mark.parametrize(
        ("header", "value"),
        [("X-Autoreply", "no"), ("X-Precedence", "first-class"), ("X-Amazon-Mail-Relay-Type", "direct")],
    )
    def test_a_person_whose_mail_says_it_is_not_automatic_gets_a_ticket(
        self, db: Database, mail_settings: MailServer, header: str, value: str
    ) -> None:
        """The same headers with values that mean "written by a person" must not lose a customer's mail."""
        inbox = make_mailbox(db)
        entry = inbox.receive(mail(headers={header: value}))

        assert entry.status is MailStatus.CREATED_TICKET
        assert ticket_count(db) == 1
