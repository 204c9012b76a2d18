"""Helpers of the inbound mail tests: build a mail, put it in the mail log as the poller or the
webhook would, and run the jobs it queues."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.mailserver import MailServer
from ticketry.core.config import get_settings
from ticketry.core.db import Database
from ticketry.jobs.worker import Worker
from ticketry.mail.inbound import receive
from ticketry.mail.inbound.models import Mailbox
from ticketry.mail.log.models import Direction, MailLog, MailStatus
from ticketry.users import service as users

SUPPORT = "support@help.example.com"
_mailboxes = itertools.count(1)


def mail(
    *,
    sender: str = "Carla Customer <carla@customer.example>",
    to: str = SUPPORT,
    subject: str = "The printer is on fire",
    body: str = "Hello,\n\nthe printer on floor 3 is on fire.\n\nCarla",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    references: str | None = None,
    headers: dict[str, str] | None = None,
    attachments: list[tuple[str, str, bytes]] = (),  # type: ignore[assignment]
    html: str | None = None,
) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id or make_msgid(domain="customer.example")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    if references:
        message["References"] = references
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for filename, mime, content in attachments:
        maintype, subtype = mime.split("/")
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes()


@dataclass
class Inbox:
    """A mailbox in the database and the way mail reaches it."""

    db: Database
    mailbox_id: int
    address: str

    def receive(self, raw: bytes, *, run: bool = True) -> MailLog:
        with self.db.unit_of_work() as session:
            entry = receive.receive(session, raw, mailbox_id=self.mailbox_id, via="webhook")
            entry_id = entry.id
        if run:
            run_jobs(self.db)
        return log_entry(self.db, entry_id)


def make_mailbox(db: Database, *, address: str | None = None, department: str = "technical") -> Inbox:
    n = next(_mailboxes)
    address = address or (SUPPORT if n == 1 else f"help{n}@help.example.com")
    with db.unit_of_work() as session:
        department_id = users.find_department(session, department).id
        if session.scalar(select(Mailbox.id).where(Mailbox.address == address)) is not None:
            address = f"help{n}@help.example.com"
        mailbox = Mailbox(
            name=f"Support {n}",
            address=address,
            department_id=department_id,
            imap_host="",
            last_error="",
            last_uid=0,
        )
        session.add(mailbox)
        session.flush()
        return Inbox(db, mailbox.id, address)


def run_jobs(db: Database) -> None:
    Worker(db, retry_base_seconds=0).run_until_idle()


def log_entry(db: Database, entry_id: int) -> MailLog:
    with db.unit_of_work(write=False) as session:
        entry = session.get(MailLog, entry_id)
        assert entry is not None
        return entry


def outbound(db: Database) -> list[MailLog]:
    with db.unit_of_work(write=False) as session:
        return list(
            session.scalars(
                select(MailLog).where(MailLog.direction == Direction.OUTBOUND).order_by(MailLog.id)
            )
        )


@pytest.fixture
def mail_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, mailserver: MailServer
) -> Iterator[MailServer]:
    """Our From address on help.example.com, files in a temporary directory, SMTP to `mailserver`."""
    monkeypatch.setenv("TICKETRY_MAIL_FROM", f"Example Support <{SUPPORT}>")
    monkeypatch.setenv("TICKETRY_STORAGE_URL", str(tmp_path / "files"))
    get_settings.cache_clear()
    yield mailserver
    get_settings.cache_clear()


def sent_before(
    db: Database, message_id: str, recipients: list[str], *, user_id: int | None, ticket_id: int | None = None
) -> None:
    """A mail of ours as the mail log holds it: what a reply or a delivery report answers (a
    fixture's own ids are signed with another key, so the log is what ties them to a ticket)."""
    with db.unit_of_work() as session:
        session.add(
            MailLog(
                direction=Direction.OUTBOUND,
                status=MailStatus.SENT,
                purpose="staff_reply",
                message_id_header=message_id,
                sender=SUPPORT,
                recipients=", ".join(recipients),
                subject="Re: your ticket",
                ticket_id=ticket_id,
                user_id=user_id,
            )
        )
