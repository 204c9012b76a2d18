"""Queueing mail in the caller's transaction and delivering it from a job.

`queue()` and `queue_many()` render nothing: they take finished messages, log them and enqueue
one `mail.send` job in the same transaction as the change that caused them, so a rolled-back
change sends nothing and a committed one is sent even if the SMTP server is down right now. The
job delivers its mails over one SMTP connection; each mail keeps its own outcome: a refusal or
failure is retried with backoff (1, 2, 4 … minutes, at most an hour apart) up to
`TICKETRY_MAIL_MAX_ATTEMPTS`, each failure's reason visible in the log.
"""

from __future__ import annotations

import smtplib
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from ticketry.core.clock import now
from ticketry.core.config import get_settings
from ticketry.core.db import Database
from ticketry.jobs import service as jobs
from ticketry.jobs.registry import task
from ticketry.mail.log.models import Direction, MailLog, MailStatus
from ticketry.mail.outbound import events as mail_events
from ticketry.mail.outbound.compose import Composed
from ticketry.mail.outbound.smtp import SmtpServer

log = structlog.get_logger(__name__)

# Mail that carries a secret link: its body is not kept once delivered.
SECRET_PURPOSES = frozenset({"password_reset", "email_verification", "signup"})

SmtpFailure = smtplib.SMTPException | OSError
Retries = dict[float, list[int]]  # delay in seconds -> the mails to try again after it


@dataclass(frozen=True)
class Outgoing:
    """One finished mail to log and send, and what it is about."""

    mail: Composed
    purpose: str
    ticket_id: int | None = None
    user_id: int | None = None


def _values(mail: Composed, *, purpose: str, ticket_id: int | None, user_id: int | None) -> dict[str, Any]:
    recipients = [str(address.addr_spec) for address in mail["To"].addresses]
    return {
        "direction": Direction.OUTBOUND,
        "status": MailStatus.QUEUED,
        "purpose": purpose,
        "message_id_header": str(mail["Message-ID"]),
        "sender": str(mail["From"].addresses[0].addr_spec),
        "recipients": ", ".join(recipients),
        "subject": str(mail["Subject"]),
        "ticket_id": ticket_id,
        "user_id": user_id,
        "raw": mail.raw,
    }


def queue(
    session: Session,
    mail: Composed,
    *,
    purpose: str,
    ticket_id: int | None = None,
    user_id: int | None = None,
) -> MailLog:
    entry = MailLog(**_values(mail, purpose=purpose, ticket_id=ticket_id, user_id=user_id))
    session.add(entry)
    session.flush()
    jobs.enqueue(session, mail_events.SEND(_payload([entry.id])))
    return entry


def queue_many(session: Session, mails: Sequence[Outgoing]) -> list[int]:
    """Log the mails with one INSERT and enqueue one job that sends them all; their ids (in the
    order of `mails`). The logged values are the composed mail's headers: single-line, checked."""
    if not mails:
        return []
    rows = [
        _values(item.mail, purpose=item.purpose, ticket_id=item.ticket_id, user_id=item.user_id)
        for item in mails
    ]
    # Rows are numbered in the order of the VALUES list, the order RETURNING need not keep.
    ids = sorted(session.scalars(insert(MailLog).returning(MailLog.id), rows))
    jobs.enqueue(session, mail_events.SEND(_payload(ids)))
    return ids


def resend(session: Session, entry: MailLog) -> None:
    """An admin sends a failed mail again, with a fresh count of attempts."""
    entry.status, entry.reason, entry.attempts, entry.sent_at, entry.updated_at = (
        MailStatus.QUEUED,
        "Queued again by an admin.",
        0,
        None,
        now(),
    )
    session.flush()
    jobs.enqueue(session, mail_events.SEND(_payload([entry.id])))


def backoff_seconds(attempts: int) -> float:
    return float(min(60 * 2 ** max(attempts - 1, 0), 3600))


FINISHED = (MailStatus.SENT, MailStatus.FAILED, MailStatus.NOT_SENT)


@dataclass(frozen=True)
class _Pending:
    id: int
    raw: bytes | None
    sender: str
    recipients: list[str]


@dataclass(frozen=True)
class _Outcome:
    id: int
    failure: SmtpFailure | None = None
    refused: tuple[str, ...] = ()
    no_body: bool = False


def _payload(ids: Sequence[int]) -> mail_events.SendMail:
    """A `mail.send` job's payload: `mail_log_id` for one mail (as before batches), else
    `mail_log_ids`."""
    return {"mail_log_id": ids[0]} if len(ids) == 1 else {"mail_log_ids": list(ids)}


def _ids(payload: mail_events.SendMail) -> list[int]:
    if "mail_log_ids" in payload:
        return [int(value) for value in payload["mail_log_ids"]]
    return [int(payload["mail_log_id"])]


@task(mail_events.SEND)
def send(db: Database, payload: mail_events.SendMail) -> None:
    """Deliver the logged mails of the job over one connection, each at most once. No
    transaction is open while the SMTP server is talked to, so a slow or hanging server never
    holds a database lock (on SQLite: the one write lock).

    Each mail is claimed before it is handed to the server (`sent_at` set and committed,
    together with the outcome of the mail before it). A worker killed between the claim and the
    record leaves the mail claimed: whoever takes the job over does not send it again but marks
    it failed as interrupted, for an admin to send again if it did not arrive (no mail twice;
    docs/scale-out.md, "Crashes"). Past half the job's lease the rest goes to a new job, so no
    other worker takes this one over mid-way."""
    settings = get_settings()
    server = SmtpServer.from_settings(settings)
    with db.unit_of_work(write=False) as session:
        rows = session.execute(
            select(MailLog.id, MailLog.raw, MailLog.sender, MailLog.recipients, MailLog.sent_at)
            .where(MailLog.id.in_(_ids(payload)), MailLog.status.not_in(FINISHED))
            .order_by(MailLog.id)
        ).all()
    interrupted = [row.id for row in rows if row.sent_at is not None]
    pending = [
        _Pending(row.id, row.raw, row.sender, row.recipients.split(", "))
        for row in rows
        if row.sent_at is None
    ]
    if interrupted:
        with db.unit_of_work() as session:
            _give_up_interrupted(session, interrupted)
    if server is None:
        with db.unit_of_work() as session:
            _record(session, [_Outcome(item.id) for item in pending], configured=False)
        return
    deadline = time.monotonic() + settings.job_lease_seconds / 2
    connection = _Connection(server)
    outcomes: list[_Outcome] = []
    # Failures wait for the job's last record to be queued as retries, one job per delay. If the
    # worker dies first, the job itself is run again and tries them at once.
    retries: Retries = defaultdict(list)
    try:
        for index, item in enumerate(pending):
            with db.unit_of_work() as session:
                _record(session, outcomes, configured=True, retries=retries)
                outcomes = []
                if time.monotonic() > deadline:
                    jobs.enqueue(session, mail_events.SEND(_payload([later.id for later in pending[index:]])))
                    _retry_later(session, retries)
                    return
                claimed = _claim(session, item.id)
            if claimed:
                outcomes.append(connection.send(item))
        with db.unit_of_work() as session:
            _record(session, outcomes, configured=True, retries=retries)
            _retry_later(session, retries)
    finally:
        connection.close()


def _claim(session: Session, mail_id: int) -> bool:
    """Mark the mail as being handed to the server; False if it is claimed or finished already."""
    claimed = session.execute(
        update(MailLog)
        .where(MailLog.id == mail_id, MailLog.sent_at.is_(None), MailLog.status.not_in(FINISHED))
        .values(sent_at=now())
    )
    return getattr(claimed, "rowcount", 0) == 1


def _give_up_interrupted(session: Session, mail_ids: Sequence[int]) -> None:
    """Mails a killed worker had claimed and never recorded: maybe delivered, so not sent again."""
    entries = session.scalars(
        select(MailLog)
        .where(MailLog.id.in_(mail_ids), MailLog.sent_at.is_not(None), MailLog.status.not_in(FINISHED))
        .with_for_update()
    )
    for entry in entries:
        started = entry.sent_at
        entry.status, entry.sent_at, entry.updated_at = MailStatus.FAILED, None, now()
        entry.reason = (
            f"Interrupted: the worker stopped while handing this mail to the SMTP server "
            f"(at {started:%Y-%m-%d %H:%M:%S} UTC), so it may have been delivered. It is not sent again "
            "by itself; send it again from the mail log if it did not arrive."
        )
        log.warning("mail.interrupted", mail_log_id=entry.id)


class _Connection:
    """The SMTP connection of one job: opened when first needed, and again when the server
    dropped it between mails. Once the server cannot be reached, every mail left fails with that
    reason at once (instead of one connect timeout each)."""

    def __init__(self, server: SmtpServer) -> None:
        self.server = server
        self.client: smtplib.SMTP | None = None
        self.unreachable: SmtpFailure | None = None

    def send(self, item: _Pending) -> _Outcome:
        if item.raw is None:
            return _Outcome(item.id, no_body=True)
        if self.unreachable is not None:
            return _Outcome(item.id, failure=self.unreachable)
        reused = self.client is not None
        try:
            if self.client is None:
                self.client = self.server.connect()
        except (smtplib.SMTPException, OSError) as error:
            self.unreachable = error
            return _Outcome(item.id, failure=error)
        try:
            refused = self.client.sendmail(item.sender, item.recipients, item.raw)
        except smtplib.SMTPServerDisconnected as error:
            self.close()
            # Dropped while idle between mails (a timeout, a 421): once more on a new connection.
            return self.send(item) if reused else _Outcome(item.id, failure=error)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as error:
            return _Outcome(item.id, failure=error)  # answered: the connection is still good
        except (smtplib.SMTPException, OSError) as error:
            self.close()
            return _Outcome(item.id, failure=error)
        return _Outcome(item.id, refused=tuple(sorted(refused)))

    def close(self) -> None:
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()


def _record(
    session: Session, outcomes: Sequence[_Outcome], *, configured: bool, retries: Retries | None = None
) -> None:
    """Each mail's status; the failures to retry get one job per delay."""
    if not outcomes:
        return
    settings = get_settings()
    entries = session.scalars(
        select(MailLog)
        .where(MailLog.id.in_([outcome.id for outcome in outcomes]))
        .order_by(MailLog.id)
        .with_for_update()
    )
    by_id = {entry.id: entry for entry in entries}
    later: Retries = defaultdict(list) if retries is None else retries
    for outcome in outcomes:
        entry = by_id.get(outcome.id)
        if entry is None or entry.status in FINISHED:
            continue  # delivered (or given up) already: a job may run twice
        entry.updated_at = now()
        if not configured:
            entry.status, entry.reason = (
                MailStatus.NOT_SENT,
                "No SMTP server is configured (TICKETRY_SMTP_HOST).",
            )
            log.info("mail.not_configured", mail_log_id=entry.id, purpose=entry.purpose)
        elif outcome.no_body:
            entry.status, entry.reason, entry.sent_at = (
                MailStatus.FAILED,
                "The message body is no longer kept.",
                None,
            )
        elif outcome.failure is not None:
            delay = _failed(entry, outcome.failure, settings.mail_max_attempts)
            if delay is not None:
                later[delay].append(entry.id)
        else:
            entry.attempts += 1
            entry.status = MailStatus.SENT
            entry.sent_at = entry.updated_at
            entry.reason = f"Refused by the server: {', '.join(outcome.refused)}" if outcome.refused else ""
            if entry.purpose in SECRET_PURPOSES:
                entry.raw = None
    if retries is None:
        _retry_later(session, later)


def _retry_later(session: Session, retries: Retries) -> None:
    """One job per delay for the failures to try again."""
    for delay, ids in retries.items():
        jobs.enqueue(session, mail_events.SEND(_payload(ids)), delay_seconds=delay)


def _failed(entry: MailLog, error: SmtpFailure, max_attempts: int) -> float | None:
    """Count the attempt; the delay before the next one, or None when given up."""
    entry.attempts += 1
    entry.sent_at = None  # not delivered: a later job may claim it again
    permanent = isinstance(error, smtplib.SMTPRecipientsRefused) or (
        isinstance(error, smtplib.SMTPResponseException) and 500 <= error.smtp_code < 600
    )
    entry.reason = f"{type(error).__name__}: {error}"[:2000]
    if permanent or entry.attempts >= max_attempts:
        entry.status = MailStatus.FAILED
        log.warning("mail.failed", mail_log_id=entry.id, reason=entry.reason)
        return None
    entry.status = MailStatus.RETRYING
    delay = backoff_seconds(entry.attempts)
    log.info("mail.retrying", mail_log_id=entry.id, attempts=entry.attempts, delay=delay)
    return delay
