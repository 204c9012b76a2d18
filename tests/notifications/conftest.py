"""The SMTP server fixtures (tests/mailserver.py) and helpers of the notification tests."""

from __future__ import annotations

from email.message import EmailMessage

from sqlalchemy import select

from tests.mailserver import MailServer, mailserver, smtp_down
from ticketry.core.db import Database
from ticketry.jobs.worker import Worker
from ticketry.mail.log.models import MailLog

__all__ = ["content", "deliver", "mail_log", "mailserver", "purposes", "smtp_down"]


def deliver(db: Database, server: MailServer | None = None) -> None:
    """Run every due job (the events, then the `mail.send` they queue), as the worker would;
    with a server, forget what it received before, so a test sees only this round's mail."""
    if server is not None:
        server.messages.clear()
        server.peers.clear()
    Worker(db, retry_base_seconds=0).run_until_idle()


def mail_log(db: Database) -> list[MailLog]:
    with db.unit_of_work(write=False) as session:
        return list(session.scalars(select(MailLog).order_by(MailLog.id)))


def purposes(db: Database, user_id: int) -> list[str]:
    return [entry.purpose for entry in mail_log(db) if entry.user_id == user_id]


def content(message: EmailMessage) -> str:
    """The text and the HTML alternative of a received mail, together."""
    parts = []
    for kind in ("plain", "html"):
        part = message.get_body(preferencelist=(kind,))
        assert part is not None, f"no text/{kind} part"
        parts.append(part.get_content())
    return "\n".join(parts)
