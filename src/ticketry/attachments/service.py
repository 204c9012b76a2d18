"""Recording stored files and binding them to tickets and messages; housekeeping.

Storing is two steps so that no database lock is held while bytes travel: `store` first marks
each blob as just seen (its own short transaction), then writes it to storage. The caller's
unit of work then records the attachments. A blob that ends up unreferenced (a failed request,
a purged ticket) is collected later, but only once nobody has touched it for `BLOB_GRACE`,
so a concurrent upload of the same content can never lose its file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Table, and_, delete, func, select, update
from sqlalchemy.engine import Result
from sqlalchemy.orm import Session

from ticketry.attachments.errors import (
    AttachmentInUse,
    AttachmentNotFound,
    AttachmentUnavailable,
    TicketAttachmentsTooLarge,
)
from ticketry.attachments.intake import StagedFile, human_size
from ticketry.attachments.models import Attachment, Blob
from ticketry.attachments.storage import Storage
from ticketry.auth.actor import Actor
from ticketry.core.clock import now
from ticketry.core.db import Database, upsert

log = structlog.get_logger(__name__)

ORPHAN_AGE = timedelta(days=1)
BLOB_GRACE = timedelta(hours=1)
MAX_PER_REQUEST = 20
_blobs: Table = Blob.__table__  # type: ignore[assignment]


# --- storing ------------------------------------------------------------------------------------


def store(db: Database, storage: Storage, files: Sequence[StagedFile]) -> None:
    """Put staged files into storage (deduplicated), before any attachment row points at them."""
    if not files:
        return
    stamp = now()
    with db.unit_of_work() as session:
        for staged in sorted(files, key=lambda f: f.sha256):  # one lock order for every request
            statement = upsert(session, _blobs).values(
                key=staged.sha256, size=staged.size, created_at=stamp, last_seen_at=stamp
            )
            session.execute(
                statement.on_conflict_do_update(index_elements=[_blobs.c.key], set_={"last_seen_at": stamp})
            )
    for staged in files:
        storage.put(staged.path, staged.sha256)


@dataclass(frozen=True)
class NewFiles:
    """The files going with a new ticket or message: the actor's unsent uploads by id, and files
    received with this same request (already stored), all under the per-ticket limit."""

    max_ticket: int  # the process's TICKETRY_ATTACHMENT_MAX_TICKET_SIZE (FileStore.limits)
    ids: Sequence[int] = ()
    staged: Sequence[StagedFile] = ()

    def __bool__(self) -> bool:
        return bool(self.ids or self.staged)


def record(session: Session, actor: Actor, staged: Sequence[StagedFile]) -> list[Attachment]:
    """Unsent uploads: attachment rows for stored files, visible to their uploader only."""
    return _rows(session, actor, staged, ticket_id=None, message_id=None)


def attach(
    session: Session,
    actor: Actor,
    files: NewFiles,
    *,
    ticket_id: int,
    message_id: int | None = None,
    used: int = 0,
) -> list[Attachment]:
    """Bind `files` to a new ticket (its description) or to a new message of it. `used` is what
    the ticket's files the actor can read already take (`messages.attachments.readable_bytes`):
    a customer's room never depends on, and so never reveals, the size of staff-only files."""
    claimed = _claim(session, actor, files.ids)
    adding = sum(a.size for a in claimed) + sum(f.size for f in files.staged)
    if used + adding > files.max_ticket:
        raise TicketAttachmentsTooLarge(
            f"These files do not fit: a ticket's files may add up to {human_size(files.max_ticket)}.",
            details={"limit": files.max_ticket},
        )
    for attachment in claimed:
        attachment.ticket_id = ticket_id
        attachment.message_id = message_id
    return claimed + _rows(session, actor, files.staged, ticket_id=ticket_id, message_id=message_id)


def _rows(
    session: Session,
    actor: Actor,
    staged: Sequence[StagedFile],
    *,
    ticket_id: int | None,
    message_id: int | None,
) -> list[Attachment]:
    attachments = [
        Attachment(
            blob_key=file.sha256,
            filename=file.filename,
            content_type=file.kind.mime,
            kind=file.kind.name,
            size=file.size,
            ticket_id=ticket_id,
            message_id=message_id,
            uploaded_by_id=actor.user_id,
            created_at=now(),
        )
        for file in staged
    ]
    session.add_all(attachments)
    session.flush()
    return attachments


def _claim(session: Session, actor: Actor, ids: Sequence[int]) -> list[Attachment]:
    """The actor's own unsent uploads, locked; any other id is refused."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    if len(wanted) > MAX_PER_REQUEST:
        raise AttachmentUnavailable(f"At most {MAX_PER_REQUEST} files per message.")
    found = {
        a.id: a
        for a in session.scalars(
            select(Attachment).where(Attachment.id.in_(wanted)).with_for_update().order_by(Attachment.id)
        )
    }
    unavailable = [
        i
        for i in wanted
        if i not in found
        or found[i].uploaded_by_id != actor.user_id
        or found[i].ticket_id is not None
        or found[i].deleted_at is not None
    ]
    if unavailable:
        raise AttachmentUnavailable(
            "Some attachments are not your unsent uploads (already sent, removed, or never uploaded).",
            details={"attachmentIds": unavailable},
        )
    return [found[i] for i in wanted]


def pending_bytes(session: Session, actor: Actor) -> int:
    """What the actor's unsent uploads take: they may hold no more than one ticket's worth."""
    total = session.scalar(
        select(func.coalesce(func.sum(Attachment.size), 0)).where(
            Attachment.uploaded_by_id == actor.user_id, Attachment.ticket_id.is_(None)
        )
    )
    return int(total or 0)


def discard_pending(session: Session, actor: Actor, attachment_id: int) -> None:
    """Remove one of the actor's own uploads before it was sent."""
    attachment = session.get(Attachment, attachment_id, with_for_update=True)
    if attachment is None or attachment.uploaded_by_id != actor.user_id or attachment.deleted_at is not None:
        raise AttachmentNotFound("No such attachment.")
    if attachment.ticket_id is not None:
        raise AttachmentInUse("This file was already sent; delete its message instead.")
    session.delete(attachment)
    session.flush()


# --- soft delete with the ticket or message -----------------------------------------------------


def soft_delete(
    session: Session, *, at: datetime, ticket_id: int | None = None, message_id: int | None = None
) -> None:
    """A deleted ticket or message takes its files with it, stamped for the retention clock."""
    column = Attachment.ticket_id if ticket_id is not None else Attachment.message_id
    owner = ticket_id if ticket_id is not None else message_id
    session.execute(
        update(Attachment)
        .where(column == owner, Attachment.deleted_at.is_(None))
        .values(deleted_at=at)
        .execution_options(synchronize_session=False)
    )


def restore(
    session: Session, *, deleted_at: datetime, ticket_id: int | None = None, message_id: int | None = None
) -> None:
    """Undo `soft_delete` of a ticket or message: exactly the files that went with it come back."""
    column = Attachment.ticket_id if ticket_id is not None else Attachment.message_id
    owner = ticket_id if ticket_id is not None else message_id
    session.execute(
        update(Attachment)
        .where(column == owner, Attachment.deleted_at == deleted_at)
        .values(deleted_at=None)
        .execution_options(synchronize_session=False)
    )


# --- housekeeping -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Swept:
    purged: int
    orphans: int
    blobs: int


def sweep(db: Database, storage: Storage, *, retention_days: int) -> Swept:
    """Purge files deleted longer ago than the retention, unsent uploads older than a day, and
    stored contents nothing points at any more."""
    stamp = now()
    with db.unit_of_work() as session:
        purged = _count(
            session.execute(
                delete(Attachment).where(Attachment.deleted_at < stamp - timedelta(days=retention_days))
            )
        )
        unsent_too_long = and_(Attachment.ticket_id.is_(None), Attachment.created_at < stamp - ORPHAN_AGE)
        orphans = _count(session.execute(delete(Attachment).where(unsent_too_long)))
    collected = 0
    referenced = select(Attachment.id).where(Attachment.blob_key == Blob.key).exists()
    with db.unit_of_work(write=False) as session:
        candidates = list(
            session.scalars(
                select(Blob.key).where(~referenced, Blob.last_seen_at < stamp - BLOB_GRACE).limit(10_000)
            )
        )
    for key in candidates:
        with db.unit_of_work() as session:
            # Re-checked under the row lock: an upload touching the blob now keeps it.
            blob = session.scalar(
                select(Blob)
                .where(Blob.key == key, ~referenced, Blob.last_seen_at < stamp - BLOB_GRACE)
                .with_for_update()
            )
            if blob is None:
                continue
            storage.delete(key)
            session.delete(blob)
            collected += 1
    if purged or orphans or collected:
        log.info("attachments.swept", purged=purged, orphans=orphans, blobs=collected)
    return Swept(purged=purged, orphans=orphans, blobs=collected)


def _count(result: Result[Any]) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def blob_keys(session: Session) -> list[str]:
    """Every stored content, for `ticketry storage migrate`."""
    return list(session.scalars(select(Blob.key).order_by(Blob.key)))


# --- moving between backends --------------------------------------------------------------------


@dataclass
class Migration:
    copied: int = 0
    skipped: int = 0  # already in the target: a resumed run skips what an earlier one copied
    missing: list[str] = field(default_factory=list)  # recorded, but not in the source
    corrupt: list[str] = field(default_factory=list)  # content no longer matches its hash


def migrate_storage(
    db: Database, source: Storage, target: Storage, *, progress: Callable[[str, str], None] | None = None
) -> Migration:
    """Copy every recorded content from `source` to `target`, checking each against its hash.
    Safe to interrupt and run again; the source is left as it is."""
    with db.unit_of_work(write=False) as session:
        keys = blob_keys(session)
    report = Migration()
    for key in keys:
        outcome = _copy_one(source, target, key)
        if outcome == "copied":
            report.copied += 1
        elif outcome == "skipped":
            report.skipped += 1
        elif outcome == "missing":
            report.missing.append(key)
        else:
            report.corrupt.append(key)
        if progress is not None:
            progress(key, outcome)
    return report


def _copy_one(source: Storage, target: Storage, key: str) -> str:
    if target.exists(key):
        return "skipped"
    if not source.exists(key):
        return "missing"
    fd, name = tempfile.mkstemp(dir=target.staging_dir, prefix="migrate-")
    staged = Path(name)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as handle:
            for chunk in source.open(key):
                digest.update(chunk)
                handle.write(chunk)
        if digest.hexdigest() != key:
            return "corrupt"
        target.put(staged, key)
        return "copied"
    finally:
        staged.unlink(missing_ok=True)
