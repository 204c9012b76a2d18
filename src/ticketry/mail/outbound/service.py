"""Queueing a mail in the caller's transaction and delivering it from a job.

`queue()` renders nothing: it takes a finished message, logs it and enqueues `mail.send` in the
same transaction as the change that caused it, so a rolled-back change sends nothing and a
committed one is sent even if the SMTP server is down right now. Delivery failures are retried
with backoff (1, 2, 4 … minutes, at most an hour apart) up to `TICKETRY_MAIL_MAX_ATTEMPTS`, each
failure's reason visible in the log.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Any

import structlog
from sqlalchemy.orm import Session

from ticketry.core.clock import now
from ticketry.core.config import get_settings
from ticketry.core.db import Database
from ticketry.jobs import service as jobs
from ticketry.jobs.registry import task
from ticketry.mail.outbound.models import Direction, MailLog, MailStatus
from ticketry.mail.outbound.smtp import SmtpServer

log = structlog.get_logger(__name__)

SEND_JOB = "mail.send"
# Mail that carries a secret link: its body is not kept once delivered.
SECRET_PURPOSES = frozenset({"password_reset", "email_verification", "signup"})


def queue(
    session: Session,
    mail: EmailMessage,
    *,
    purpose: str,
    ticket_id: int | None = None,
    user_id: int | None = None,
) -> MailLog:
    recipients = [str(address.addr_spec) for address in mail["To"].addresses]
    entry = MailLog(
        direction=Direction.OUTBOUND,
        status=MailStatus.QUEUED,
        purpose=purpose,
        message_id_header=str(mail["Message-ID"]),
        sender=str(mail["From"].addresses[0].addr_spec),
        recipients=", ".join(recipients),
        subject=str(mail["Subject"]),
        ticket_id=ticket_id,
        user_id=user_id,
        raw=mail.as_bytes(),
    )
    session.add(entry)
    session.flush()
    jobs.enqueue(session, SEND_JOB, mail_log_id=entry.id)
    return entry


def resend(session: Session, entry: MailLog) -> None:
    """An admin sends a failed mail again, with a fresh count of attempts."""
    entry.status, entry.reason, entry.attempts, entry.updated_at = (
        MailStatus.QUEUED,
        "Queued again by an admin.",
        0,
        now(),
    )
    session.flush()
    jobs.enqueue(session, SEND_JOB, mail_log_id=entry.id)


def backoff_seconds(attempts: int) -> float:
    return float(min(60 * 2 ** max(attempts - 1, 0), 3600))


FINISHED = (MailStatus.SENT, MailStatus.FAILED, MailStatus.NOT_SENT)


@task(SEND_JOB)
def send(db: Database, payload: dict[str, Any]) -> None:
    """Deliver one logged mail. No transaction is open while the SMTP server is talked to, so a
    slow or hanging server never holds a database lock (on SQLite: the one write lock)."""
    log_id = int(payload["mail_log_id"])
    settings = get_settings()
    server = SmtpServer.from_settings(settings)
    with db.unit_of_work(write=False) as session:
        entry = session.get(MailLog, log_id)
        if entry is None or entry.status in FINISHED:
            return  # delivered (or given up) already: a job may run twice
        raw, sender, recipients = entry.raw, entry.sender, entry.recipients.split(", ")
    failure: smtplib.SMTPException | OSError | None = None
    refused: dict[str, Any] = {}
    if server is not None and raw is not None:
        try:
            refused = server.send(raw, sender, recipients)
        except (smtplib.SMTPException, OSError) as error:
            failure = error
    with db.unit_of_work() as session:
        entry = session.get(MailLog, log_id, with_for_update=True)
        if entry is None or entry.status in FINISHED:
            return
        entry.updated_at = now()
        if server is None:
            entry.status, entry.reason = (
                MailStatus.NOT_SENT,
                "No SMTP server is configured (TICKETRY_SMTP_HOST).",
            )
            log.info("mail.not_configured", mail_log_id=entry.id, purpose=entry.purpose)
        elif raw is None:
            entry.status, entry.reason = MailStatus.FAILED, "The message body is no longer kept."
        elif failure is not None:
            _failed(session, entry, failure, settings.mail_max_attempts)
        else:
            entry.attempts += 1
            entry.status = MailStatus.SENT
            entry.sent_at = entry.updated_at
            entry.reason = f"Refused by the server: {', '.join(sorted(refused))}" if refused else ""
            if entry.purpose in SECRET_PURPOSES:
                entry.raw = None


def _failed(
    session: Session, entry: MailLog, error: smtplib.SMTPException | OSError, max_attempts: int
) -> None:
    entry.attempts += 1
    permanent = isinstance(error, smtplib.SMTPRecipientsRefused) or (
        isinstance(error, smtplib.SMTPResponseException) and 500 <= error.smtp_code < 600
    )
    entry.reason = f"{type(error).__name__}: {error}"[:2000]
    if permanent or entry.attempts >= max_attempts:
        entry.status = MailStatus.FAILED
        log.warning("mail.failed", mail_log_id=entry.id, reason=entry.reason)
        return
    entry.status = MailStatus.RETRYING
    delay = backoff_seconds(entry.attempts)
    log.info("mail.retrying", mail_log_id=entry.id, attempts=entry.attempts, delay=delay)
    jobs.enqueue(session, SEND_JOB, delay_seconds=delay, mail_log_id=entry.id)
