"""Taking mail in: a raw mail is stored in the mail log together with its `mail.ingest` job, in the
caller's transaction (the poller's or the webhook's). From that commit on the mail cannot be
lost, whatever happens to the process, the IMAP server or the webhook's caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ticketry.core.clock import now
from ticketry.jobs import service as jobs
from ticketry.mail.inbound import events as mail_events
from ticketry.mail.log.models import Direction, MailLog, MailStatus
from ticketry.mailparse.addresses import addresses
from ticketry.mailparse.decode import decode_header_value, message_ids, read_header_section
from ticketry.mailparse.senders import choose_sender

# --- storing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arrived:
    """One raw mail to store, and where it came from (an IMAP mailbox's UIDVALIDITY and UID)."""

    raw: bytes
    uidvalidity: int | None = None
    uid: int | None = None


def receive(session: Session, raw: bytes, *, mailbox_id: int | None, via: str) -> MailLog:
    """Store one raw mail and queue its ingestion, in the caller's transaction."""
    [entry] = receive_all(session, [Arrived(raw)], mailbox_id=mailbox_id, via=via)
    return entry


def receive_all(
    session: Session, arrived: Sequence[Arrived], *, mailbox_id: int | None, via: str
) -> list[MailLog]:
    """Store raw mails and queue their ingestion, in the caller's transaction: one INSERT for
    the mails and one for their jobs, however many there are."""
    entries = []
    for mail in arrived:
        entry = _logged(
            session,
            mail.raw,
            MailStatus.RECEIVED,
            via=via,
            mailbox_id=mailbox_id,
            imap=(mail.uidvalidity, mail.uid),
        )
        entry.raw = mail.raw
        entries.append(entry)
    session.flush()
    for entry in entries:
        jobs.enqueue(session, mail_events.INGEST({"mail_log_id": entry.id}))
    return entries


def refuse(
    session: Session,
    raw_headers: bytes,
    *,
    mailbox_id: int | None,
    via: str,
    reason: str,
    uidvalidity: int | None = None,
    uid: int | None = None,
) -> MailLog:
    """Log a mail we will not take (too large), from its headers alone; the poller then marks
    or moves it like any processed mail."""
    entry = _logged(
        session, raw_headers, MailStatus.REJECTED, via=via, mailbox_id=mailbox_id, imap=(uidvalidity, uid)
    )
    entry.reason = reason
    entry.imap_pending = uid is not None
    session.flush()
    return entry


def _logged(
    session: Session,
    raw: bytes,
    status: MailStatus,
    *,
    via: str,
    mailbox_id: int | None,
    imap: tuple[int | None, int | None],
) -> MailLog:
    summary = _summary(raw)
    entry = MailLog(
        direction=Direction.INBOUND,
        status=status,
        purpose=via,
        message_id_header=summary.message_id,
        sender=summary.sender,
        recipients=summary.recipients,
        subject=summary.subject,
        mailbox_id=mailbox_id,
        imap_uidvalidity=imap[0],
        imap_uid=imap[1],
    )
    session.add(entry)
    return entry


@dataclass(frozen=True)
class _Summary:
    message_id: str
    sender: str
    recipients: str
    subject: str


def _summary(raw: bytes) -> _Summary:
    """The log's columns from the headers, read in linear time (`decode.read_header_section`:
    the stdlib's header parser is quadratic on hostile values) and never trusted to be well
    formed. The sender is chosen as `parse` chooses it (`senders`), from the raw From, so an
    encoded display name (`=?utf-8?q?victim=40x?= <mallory@y>`) cannot pass for the sender."""
    try:
        headers = read_header_section(raw)
        message_id = next(iter(message_ids(headers.get("message-id") or "")), "")
        sender = choose_sender(headers).address
        recipients = addresses(headers.get_all("to"))
        subject = decode_header_value(headers.get("subject") or "")
    except Exception:  # a log line must never stop a mail from being stored
        message_id, sender, recipients, subject = "", "", (), ""
    return _Summary(
        message_id="".join(message_id.split())[:255],
        sender=sender.lower()[:320],
        recipients=", ".join(recipients)[:10000],
        subject=" ".join(subject.split())[:500],
    )


# --- the admins' re-process ---------------------------------------------------------------------


def requeue(session: Session, entry: MailLog, *, release: bool, vouch: bool = False) -> None:
    """Send a held, refused or failed mail through ingestion again; `release` skips the
    classification that held it (spam, loop, auto-reply, refusal); `vouch` also the sender checks
    (`admission`: the admin says who wrote it), for mail those checks held."""
    entry.status = MailStatus.RECEIVED
    entry.reason = "Queued again by an admin."
    entry.updated_at = now()
    session.flush()
    jobs.enqueue(session, mail_events.INGEST({"mail_log_id": entry.id, "release": release, "vouch": vouch}))
