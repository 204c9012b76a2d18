"""Helpers of the mail administration tests (API, pages, leaks): mailboxes, mail log entries as
the channel leaves them, the jobs they queue, and a signed-in browser."""

from __future__ import annotations

import html
import itertools
import re
from datetime import timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import Persona, web_session
from ticketry.core.clock import now
from ticketry.core.db import Database
from ticketry.jobs.models import Job
from ticketry.mail.inbound import service as mail_service
from ticketry.mail.inbound.models import Mailbox
from ticketry.mail.log.models import Direction, MailLog, MailStatus
from ticketry.mailparse.imap import ImapSecurity
from ticketry.users import service as users

IMAP_PASSWORD = "imap-Sesame-4711-secret"
_numbers = itertools.count(1)


def department_id(db: Database, slug: str = "technical") -> int:
    with db.unit_of_work(write=False) as session:
        return users.find_department(session, slug).id


def make_mailbox(
    db: Database,
    admin: Persona,
    *,
    name: str | None = None,
    address: str | None = None,
    imap_host: str = "imap.example.com",
    imap_port: int = 993,
    imap_security: ImapSecurity = ImapSecurity.TLS,
    imap_username: str = "support",
    imap_password: str = IMAP_PASSWORD,
) -> int:
    """A mailbox made through the use case, as an admin would; its id."""
    n = next(_numbers)
    fields = mail_service.MailboxFields(
        name=name or f"Support {n}",
        address=address or f"support{n}@help.example.com",
        department_id=department_id(db),
        imap_host=imap_host,
        imap_port=imap_port,
        imap_security=imap_security,
        imap_username=imap_username if imap_host else "",
        imap_password=imap_password if imap_host else "",
    )
    with db.unit_of_work() as session:
        return mail_service.create_mailbox(session, admin.actor, fields).id


def webhook_secret(db: Database, admin: Persona, mailbox_id: int) -> str:
    with db.unit_of_work() as session:
        return mail_service.rotate_webhook_secret(session, admin.actor, mailbox_id)


def mailbox_row(db: Database, mailbox_id: int) -> Mailbox | None:
    with db.unit_of_work(write=False) as session:
        return session.get(Mailbox, mailbox_id)


def set_mailbox(db: Database, mailbox_id: int, **values: Any) -> None:
    with db.unit_of_work() as session:
        mailbox = session.get(Mailbox, mailbox_id)
        assert mailbox is not None
        for name, value in values.items():
            setattr(mailbox, name, value)


def raw_mail(
    *, sender: str = "carla@customer.example", subject: str = "The printer is on fire", body: str = "Help!"
) -> bytes:
    message = EmailMessage(policy=SMTP)
    message["From"] = f"Carla Customer <{sender}>"
    message["To"] = "support@help.example.com"
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain="customer.example")
    message.set_content(body)
    return message.as_bytes()


def log_mail(
    db: Database,
    *,
    direction: Direction = Direction.INBOUND,
    status: MailStatus = MailStatus.CREATED_TICKET,
    sender: str = "carla@customer.example",
    recipients: str = "support@help.example.com",
    subject: str = "The printer is on fire",
    raw: bytes | None = b"",
    reason: str = "",
    purpose: str = "webhook",
    mailbox_id: int | None = None,
    ticket_id: int | None = None,
    message_id_header: str | None = None,
    minutes_ago: int = 0,
) -> int:
    """A mail log entry as the channel leaves it; `raw=b""` builds a mail from the fields."""
    if raw == b"":
        raw = raw_mail(sender=sender, subject=subject)
    stamp = now() - timedelta(minutes=minutes_ago)
    with db.unit_of_work() as session:
        entry = MailLog(
            direction=direction,
            status=status,
            reason=reason,
            purpose=purpose,
            message_id_header=message_id_header or f"<m{next(_numbers)}@customer.example>",
            sender=sender,
            recipients=recipients,
            subject=subject,
            raw=raw,
            attempts=1 if direction is Direction.OUTBOUND else 0,
            mailbox_id=mailbox_id,
            ticket_id=ticket_id,
            created_at=stamp,
            updated_at=stamp,
        )
        session.add(entry)
        session.flush()
        return entry.id


def mail_entry(db: Database, entry_id: int) -> MailLog | None:
    with db.unit_of_work(write=False) as session:
        return session.get(MailLog, entry_id)


def mail_entries(db: Database) -> list[MailLog]:
    with db.unit_of_work(write=False) as session:
        return list(session.scalars(select(MailLog).order_by(MailLog.id)))


def queued_jobs(db: Database, name: str) -> list[dict[str, Any]]:
    """The payloads of the jobs of this name, oldest first."""
    with db.unit_of_work(write=False) as session:
        return [job.payload for job in session.scalars(select(Job).where(Job.name == name).order_by(Job.id))]


FLASH = re.compile(r'<p class="flash flash-(\w+)"[^>]*>(.*?)</p>', re.S)


class Browser:
    """A signed-in browser: the session cookie in the client's jar, and its CSRF token."""

    def __init__(self, client: TestClient, db: Database, persona: Persona) -> None:
        cookie, self.csrf = web_session(db, persona)
        self.client = client
        client.cookies.clear()
        client.cookies.set("ticketry_session", cookie)

    def get(self, path: str, status: int = 200) -> str:
        response = self.client.get(path, follow_redirects=False)
        assert response.status_code == status, (path, response.status_code, response.text[:500])
        return response.text

    def post(self, path: str, data: dict[str, Any] | None = None, *, back: str | None = None) -> str:
        """Submit a form; the page the redirect lands on."""
        response = self.submit(path, data, back=back)
        assert response.status_code == 303, (path, response.status_code, response.text[:500])
        landed = self.client.get(response.headers["location"], follow_redirects=False)
        assert landed.status_code == 200, landed.text[:500]
        return landed.text

    def submit(self, path: str, data: dict[str, Any] | None = None, *, back: str | None = None) -> Any:
        headers = {"referer": f"http://testserver{back}"} if back else {}
        return self.client.post(
            path, data={**(data or {}), "csrf_token": self.csrf}, headers=headers, follow_redirects=False
        )


def flash(page: str) -> str:
    """`kind: text` of the page's flash message."""
    match = FLASH.search(page)
    assert match, "no flash message on the page"
    return f"{match.group(1)}: {html.unescape(match.group(2))}"
