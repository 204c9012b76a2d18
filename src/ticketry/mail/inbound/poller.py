"""Polling IMAP mailboxes (issue 5 part 1).

`schedule_due()` runs every few seconds in each process's scheduler and queues one `mail.poll`
task per mailbox that is due; moving `next_poll_at` forward in the same conditional update means
two schedulers never queue the same poll twice. The task takes a lease on the mailbox, so polls of
one mailbox never overlap, even when a poll outlives its interval.

A poll, with no transaction open while it talks to the server:
1. checks UIDVALIDITY (if it changed, the folder is read again from the start; Message-ID dedupe
   makes that harmless);
2. tells the server about mail whose ingestion has committed since the last poll (mark seen or
   move), so mail is only ever marked after it is safely a ticket or message;
3. fetches sizes and headers of new UIDs first; mail over the size limit is logged as refused and
   never downloaded;
4. downloads the rest in batches of bounded size, and stores each batch raw, with its ingest jobs
   and the new last UID, in one transaction. A crash before that commit fetches the batch again; a
   crash after it loses nothing.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import TypeVar

import structlog
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ticketry.core.clock import now
from ticketry.core.config import get_settings
from ticketry.core.crypto import SealBroken
from ticketry.core.db import Database
from ticketry.jobs import service as jobs
from ticketry.jobs.registry import task
from ticketry.mail.inbound import events as mail_events
from ticketry.mail.inbound import receive
from ticketry.mail.inbound import service as mailboxes
from ticketry.mail.inbound.models import Mailbox, ProcessedAction
from ticketry.mail.log.models import MailLog
from ticketry.mailparse.imap import Envelope, ImapError, ImapMailbox

log = structlog.get_logger(__name__)
T = TypeVar("T")

LEASE = timedelta(minutes=10)
ENVELOPES_PER_FETCH = 200
BATCH_BYTES = 16 * 1024 * 1024  # raw mail held in memory at once (one larger mail goes alone)
MARKS_PER_COMMAND = 500


def schedule_due(db: Database) -> int:
    """Queue a poll for every active IMAP mailbox whose time has come; how many were queued."""
    stamp = now()
    queued = 0
    with db.unit_of_work() as session:
        due = session.execute(
            select(Mailbox.id, Mailbox.poll_interval_seconds).where(
                Mailbox.is_active.is_(True), Mailbox.imap_host != "", Mailbox.next_poll_at <= stamp
            )
        ).all()
        for mailbox_id, interval in due:
            moved = session.execute(
                update(Mailbox)
                .where(Mailbox.id == mailbox_id, Mailbox.next_poll_at <= stamp)
                .values(next_poll_at=stamp + timedelta(seconds=interval))
            )
            if getattr(moved, "rowcount", 0) == 1:
                jobs.enqueue(session, mail_events.POLL({"mailbox_id": mailbox_id}))
                queued += 1
    return queued


@task(mail_events.POLL)
def poll_task(db: Database, payload: mail_events.PollMailbox) -> None:
    poll(db, payload["mailbox_id"])


def poll(db: Database, mailbox_id: int) -> int:
    """Poll one mailbox now (if no one else is); the number of mails stored."""
    owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
    if not _take_lease(db, mailbox_id, owner):
        return 0
    stored = 0
    error = ""
    try:
        stored = _poll(db, mailbox_id, owner)
    except (ImapError, SealBroken) as failure:
        error = str(failure)
        log.warning("mail.poll_failed", mailbox_id=mailbox_id, error=error)
    finally:
        with db.unit_of_work() as session:
            session.execute(
                update(Mailbox)
                .where(Mailbox.id == mailbox_id, Mailbox.poll_locked_by == owner)
                .values(poll_locked_by=None, poll_locked_until=None, last_polled_at=now(), last_error=error)
            )
    return stored


def _take_lease(db: Database, mailbox_id: int, owner: str) -> bool:
    stamp = now()
    with db.unit_of_work() as session:
        taken = session.execute(
            update(Mailbox)
            .where(
                Mailbox.id == mailbox_id,
                Mailbox.is_active.is_(True),
                or_(Mailbox.poll_locked_until.is_(None), Mailbox.poll_locked_until < stamp),
            )
            .values(poll_locked_by=owner, poll_locked_until=stamp + LEASE)
        )
        return getattr(taken, "rowcount", 0) == 1


def _poll(db: Database, mailbox_id: int, owner: str) -> int:
    with db.unit_of_work(write=False) as session:
        mailbox = session.get(Mailbox, mailbox_id)
        if mailbox is None or not mailbox.imap_host:
            return 0
        account = mailboxes.imap_account(mailbox)
        known_validity, last_uid = mailbox.uidvalidity, mailbox.last_uid
        action, target = mailbox.processed_action, mailbox.processed_folder
    limit = int(get_settings().mail_max_message_size)
    with ImapMailbox(account) as imap:
        validity = imap.open()
        if validity != known_validity:
            if known_validity is not None:
                log.warning(
                    "mail.uidvalidity_changed", mailbox_id=mailbox_id, old=known_validity, new=validity
                )
            last_uid = 0
            with db.unit_of_work() as session:
                _save_position(session, mailbox_id, owner, validity, 0)
        _finish_ingested(db, imap, mailbox_id, validity, action, target)
        stored = 0
        for uids in _chunks(imap.uids_after(last_uid), ENVELOPES_PER_FETCH):
            envelopes = imap.envelopes(uids)
            for batch in _batches(envelopes, limit):
                stored += _store_batch(db, imap, mailbox_id, owner, validity, batch, limit)
        _finish_ingested(db, imap, mailbox_id, validity, action, target)
    return stored


def _store_batch(
    db: Database,
    imap: ImapMailbox,
    mailbox_id: int,
    owner: str,
    validity: int,
    batch: Sequence[Envelope],
    limit: int,
) -> int:
    wanted = [envelope.uid for envelope in batch if envelope.size <= limit]
    bodies = dict(imap.bodies(wanted)) if wanted else {}
    with db.unit_of_work() as session:
        known = set(
            session.scalars(
                select(MailLog.imap_uid).where(
                    MailLog.mailbox_id == mailbox_id,
                    MailLog.imap_uidvalidity == validity,
                    MailLog.imap_uid.in_([envelope.uid for envelope in batch]),
                )
            )
        )
        arrived = []
        for envelope in batch:
            if envelope.uid in known:
                continue  # stored by a poll that died before it could move last_uid on
            if envelope.size > limit:
                receive.refuse(
                    session,
                    envelope.headers,
                    mailbox_id=mailbox_id,
                    via="imap",
                    reason=f"The mail is {envelope.size:,} bytes, over the limit of {limit:,} "
                    "(TICKETRY_MAIL_MAX_MESSAGE_SIZE); it was not downloaded.",
                    uidvalidity=validity,
                    uid=envelope.uid,
                )
                continue
            raw = bodies.get(envelope.uid)
            if raw is None:
                continue  # gone from the server between the two fetches (another client moved it)
            arrived.append(receive.Arrived(raw, uidvalidity=validity, uid=envelope.uid))
        receive.receive_all(session, arrived, mailbox_id=mailbox_id, via="imap")
        _save_position(session, mailbox_id, owner, validity, max(envelope.uid for envelope in batch))
    return len(arrived)


def _save_position(session: Session, mailbox_id: int, owner: str, validity: int, last_uid: int) -> None:
    session.execute(
        update(Mailbox)
        .where(Mailbox.id == mailbox_id)
        .values(
            uidvalidity=validity, last_uid=last_uid, poll_locked_until=now() + LEASE, poll_locked_by=owner
        )
    )


def _finish_ingested(
    db: Database, imap: ImapMailbox, mailbox_id: int, validity: int, action: ProcessedAction, target: str
) -> None:
    """Mark or move what has been ingested (or refused) since the last poll."""
    with db.unit_of_work(write=False) as session:
        pending = list(
            session.execute(
                select(MailLog.id, MailLog.imap_uid, MailLog.imap_uidvalidity).where(
                    MailLog.mailbox_id == mailbox_id, MailLog.imap_pending.is_(True)
                )
            )
        )
    if not pending:
        return
    current = [(log_id, uid) for log_id, uid, seen_validity in pending if seen_validity == validity and uid]
    for chunk in _chunks(current, MARKS_PER_COMMAND):
        uids = [uid for _, uid in chunk]
        if action is ProcessedAction.MOVE:
            imap.move(uids, target)
        else:
            imap.mark_seen(uids)
    with db.unit_of_work() as session:
        done = [log_id for log_id, _, _ in pending]  # other validities: those UIDs no longer exist
        for chunk_ids in _chunks(done, 1000):
            session.execute(update(MailLog).where(MailLog.id.in_(chunk_ids)).values(imap_pending=False))


def _batches(envelopes: Sequence[Envelope], limit: int) -> Iterator[list[Envelope]]:
    """Consecutive envelopes whose bodies together stay under BATCH_BYTES."""
    batch: list[Envelope] = []
    size = 0
    for envelope in envelopes:
        weight = envelope.size if envelope.size <= limit else 0
        if batch and size + weight > BATCH_BYTES:
            yield batch
            batch, size = [], 0
        batch.append(envelope)
        size += weight
    if batch:
        yield batch


def _chunks(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])
