"""The SMTP server fixtures (tests/mailserver.py), the IMAP ones (tests/imapserver.py), and helpers
shared by the mail tests."""

from __future__ import annotations

from sqlalchemy import select

from tests.imapserver import dovecot, dovecot_plain_only, imap_user
from tests.mailserver import mailserver, smtp_down
from ticketry.core.db import Database
from ticketry.jobs.worker import Worker
from ticketry.mail.log.models import MailLog

__all__ = [
    "deliver",
    "dovecot",
    "dovecot_plain_only",
    "imap_user",
    "mail_log",
    "mailserver",
    "smtp_down",
]


def deliver(db: Database) -> None:
    """Run every job that is due, as the worker would."""
    Worker(db, retry_base_seconds=0).run_until_idle()


def mail_log(db: Database) -> list[MailLog]:
    with db.unit_of_work(write=False) as session:
        return list(session.scalars(select(MailLog).order_by(MailLog.id)))
