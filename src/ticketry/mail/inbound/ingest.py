"""From a stored raw mail to a ticket or a message (docs/architecture.md §4 "Mail in").

`receive.receive()` has stored the raw mail and queued `mail.ingest`. The task parses,
classifies and threads it, stages its files (outside any transaction: scanning and storing take
time), and in one transaction creates the ticket or the message and records the outcome.
Running it twice is harmless: only a mail still `received` is ingested, and a mail whose
Message-ID already made a ticket or message (two mailboxes, a re-poll) is logged as a
duplicate; the unique `dedupe_key` settles a race between two workers.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parseaddr
from typing import NamedTuple

import structlog
from sqlalchemy import func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer

from ticketry.attachments import service as attachments
from ticketry.attachments.errors import (
    FileNotScannable,
    FileTooLarge,
    TicketAttachmentsTooLarge,
    UnsupportedFileType,
    VirusFound,
)
from ticketry.attachments.intake import FileStore, StagedFile
from ticketry.attachments.models import Attachment
from ticketry.attachments.service import NewFiles
from ticketry.auth import service as auth_service
from ticketry.auth.actor import Actor
from ticketry.core import memo
from ticketry.core.clock import as_utc, now
from ticketry.core.config import Settings, get_settings
from ticketry.core.db import Database
from ticketry.core.text import sanitize_mail_html
from ticketry.history.models import Change
from ticketry.jobs import service as jobs
from ticketry.jobs.registry import task
from ticketry.mail.inbound import admission, matching, undeliverable
from ticketry.mail.inbound import events as mail_events
from ticketry.mail.inbound.admission import Admission
from ticketry.mail.inbound.classify import Classification, SenderRules, Verdict, classify
from ticketry.mail.inbound.models import Mailbox
from ticketry.mail.log.models import Direction, MailLog, MailStatus
from ticketry.mail.outbound import ids
from ticketry.mailparse.parse import ParsedMail, parse
from ticketry.messages import service as message_service
from ticketry.messages.attachments import readable_bytes
from ticketry.sitesettings import service as site_settings
from ticketry.tickets import changes as ticket_changes
from ticketry.tickets import participants
from ticketry.tickets import service as ticket_service
from ticketry.tickets.models import Source, Ticket, TicketStatus
from ticketry.tickets.repository import readable_tickets
from ticketry.users import service as users
from ticketry.users.models import Role, User

log = structlog.get_logger(__name__)

SENDER_WINDOW = timedelta(hours=1)
# A reply whose original is still being ingested waits for it this long at most, trying again
# every few seconds; then it opens a ticket of its own as any unthreaded mail does.
ANSWER_WAIT = timedelta(minutes=10)
ANSWER_RETRY_SECONDS = 3.0
RULES_MEMO = "mail.inbound.rules"
NO_SENDER = (
    "The mail has no usable sender address (From): it cannot become a ticket or a reply, released or not."
)
VERDICT_STATUS = {
    Verdict.LOOP: MailStatus.LOOP,
    Verdict.AUTO_REPLY: MailStatus.AUTO_REPLY,
    Verdict.SPAM: MailStatus.SPAM_HELD,
    Verdict.DENIED: MailStatus.REJECTED,
}


# --- ingesting ----------------------------------------------------------------------------------


_file_stores: dict[int, tuple[Settings, FileStore]] = {}


def file_store() -> FileStore:
    """The process's attachment store, built once per settings object (tests change settings)."""
    settings = get_settings()
    cached = _file_stores.get(id(settings))
    if cached is None or cached[0] is not settings:
        _file_stores.clear()
        cached = _file_stores[id(settings)] = (settings, FileStore.from_settings(settings))
    return cached[1]


class Earlier(NamedTuple):
    """The mail a repeated one was first ingested as."""

    id: int
    ticket_id: int | None


@dataclass
class _Plan:
    """What reading the mail decided, before the transaction that carries it out."""

    mail: ParsedMail
    raw: bytes
    key: str  # `dedupe_key`: the same Message-ID (or, without one, the same bytes) is the same mail
    classification: Classification
    rules: SenderRules
    department_id: int | None  # the receiving mailbox's: a new ticket's department
    # An admin released it from the hold of `admission` (its sender checks): they vouch for who
    # wrote it. A release from spam, loop or auto-reply skips only the classification.
    vouched: bool = False
    may_wait: bool = True  # for the mail it answers (not an admin's release)
    earlier: Earlier | None = None  # the same mail, ingested before
    ticket_id: int | None = None
    used: int = 0
    staged: list[StagedFile] = field(default_factory=list)
    refused_files: list[str] = field(default_factory=list)
    inline: dict[str, str] = field(default_factory=dict)  # content id -> the staged file's sha256

    @property
    def has_files(self) -> bool:
        """Files to scan and store before it posts."""
        return self.classification.verdict is Verdict.ACCEPT and bool(self.mail.files)


@task(mail_events.INGEST)
def ingest(db: Database, payload: mail_events.IngestMail) -> None:
    """Ingest one stored mail. A failure (the scanner is down, a bug) leaves it `received`, with
    the error as its reason, for the job's retries and, after the last, an admin's re-process."""
    log_id = payload["mail_log_id"]
    try:
        _ingest(db, log_id, release=payload.get("release", False), vouch=payload.get("vouch", False))
    except Exception as error:
        with db.unit_of_work() as session:
            entry = session.get(MailLog, log_id, with_for_update=True)
            if entry is not None and entry.status is MailStatus.RECEIVED:
                entry.reason = f"Not ingested yet: {type(error).__name__}: {error}"[:2000]
                entry.updated_at = now()
        raise


def _ingest(db: Database, log_id: int, *, release: bool, vouch: bool) -> None:
    settings = get_settings()
    # On PostgreSQL a mail without files is read and carried out in one transaction: the row lock
    # on its log entry holds nobody up. SQLite's one writer must not wait on a parse, and files
    # are scanned and stored outside any transaction: then it is read first, written after.
    at_once = db.dialect == "postgresql"
    try:
        with db.unit_of_work(write=at_once) as session:
            entry = _received(session, log_id, lock=at_once)
            if entry is None or entry.raw is None:
                return
            plan = _read(
                session, entry.id, entry.raw, entry.mailbox_id, settings, release=release, vouch=vouch
            )
            if at_once and not plan.has_files:
                _carry_out(session, entry, plan, settings, file_store())
                return
        _stage_and_carry_out(db, log_id, plan, settings)
    except IntegrityError:
        # Another worker ingested the same mail (same Message-ID) at the same moment, or created
        # the same new customer: only the first is a duplicate; the second raises, and the job's
        # retry finds the customer there.
        with db.unit_of_work() as session:
            if not _mark_duplicate(session, log_id, plan):
                raise


def _received(session: Session, log_id: int, *, lock: bool, raw: bool = True) -> MailLog | None:
    """The log entry of a mail still waiting to be ingested; locked for the writes that follow."""
    options = [] if raw else [defer(MailLog.raw)]
    entry = session.get(MailLog, log_id, with_for_update=lock, options=options)
    return entry if entry is not None and entry.status is MailStatus.RECEIVED else None


def _read(
    session: Session,
    log_id: int,
    raw: bytes,
    mailbox_id: int | None,
    settings: Settings,
    *,
    release: bool,
    vouch: bool,
) -> _Plan:
    """Parse and classify the mail, find whether it was ingested before, and for one with files
    the room they have on the ticket it threads to (checked again when it posts)."""
    mail = parse(raw)
    rules, department_id = _rules(session, settings, mailbox_id)
    verdict = Classification(Verdict.ACCEPT, "") if release else classify(mail, rules)
    if release and mail.over_budget:
        # Only part of it was read: releasing would post a fragment. An admin downloads it.
        verdict = Classification(Verdict.DENIED, f"{mail.over_budget} It cannot be released; download it.")
    if verdict.verdict is Verdict.ACCEPT and not users.is_valid_email(mail.from_address):
        # A release skips `classify`, which refuses such mail; without this the release made a
        # customer with an empty address, and every later one joined it (issue 14 A.1).
        verdict = Classification(Verdict.DENIED, NO_SENDER)
    key = dedupe_key(mail, raw)
    plan = _Plan(mail, raw, key, verdict, rules, department_id, vouched=vouch, may_wait=not release)
    if verdict.verdict is not Verdict.ACCEPT:
        return plan
    recent, plan.earlier = _seen_before(session, mail, log_id, key, count=not release)
    limit = settings.mail_max_per_sender_per_hour
    if recent >= limit:
        # Two systems answering each other (or forwarding in a circle) look like one sender
        # writing far more than a person does; past the hourly limit their mail is held.
        reason = f"More than {limit} mails from {mail.from_address} within an hour (a mail loop?)."
        plan.classification = Classification(Verdict.LOOP, reason)
    if plan.has_files:
        sender = users.find_user_by_email(session, mail.from_address)
        match = matching.find_ticket(session, mail, secret=settings.secret_key, sender=sender)
        if match is not None and match.ticket.status is not TicketStatus.CLOSED:
            plan.ticket_id = match.ticket.id
            plan.used = _ticket_bytes(session, match.ticket.id)
    return plan


def _stage_and_carry_out(db: Database, log_id: int, plan: _Plan, settings: Settings) -> None:
    """Scan and store the mail's files, then post it in a transaction of its own."""
    store = file_store()
    with contextlib.ExitStack() as cleanup:
        if plan.classification.verdict is Verdict.ACCEPT:
            cleanup.callback(_discard, plan)
            _stage_files(store, plan)
            attachments.store(db, store.storage, plan.staged)
        with db.unit_of_work() as session:
            entry = _received(session, log_id, lock=True, raw=False)
            if entry is not None:  # else another worker finished it
                _carry_out(session, entry, plan, settings, store)


def _rules(session: Session, settings: Settings, mailbox_id: int | None) -> tuple[SenderRules, int | None]:
    """The sender rules, and the department of the mailbox the mail came in by; read once per
    batch of jobs (an admin's change applies from the next batch)."""
    rules, departments = memo.remembered(RULES_MEMO, lambda: _read_rules(session, settings))
    return rules, departments.get(mailbox_id) if mailbox_id is not None else None


def _read_rules(session: Session, settings: Settings) -> tuple[SenderRules, dict[int, int]]:
    current = site_settings.current(session)
    own = {parseaddr(settings.mail_from)[1].lower()}
    departments = {}
    for mailbox_id, address, department_id in session.execute(
        select(Mailbox.id, Mailbox.address, Mailbox.department_id)
    ):
        own.add(address.lower())
        departments[mailbox_id] = department_id
    rules = SenderRules(
        own_addresses=frozenset(a for a in own if a),
        own_domain=ids.domain_of(settings.mail_from),
        deny=SenderRules.parse_list(current.mail_deny_senders),
        allow=SenderRules.parse_list(current.mail_allow_senders),
        spam_score=current.mail_spam_score,
    )
    return rules, departments


def _seen_before(
    session: Session, mail: ParsedMail, log_id: int, key: str, *, count: bool
) -> tuple[int, Earlier | None]:
    """In one round trip: how many of the sender's mails became tickets or replies (or were held
    as a loop) within the hour before this one, when `count`; and the mail this one repeats (the
    same dedupe key: two mailboxes, a re-poll), if it was ingested."""
    recent = (
        select(func.count())
        .select_from(MailLog)
        .where(
            MailLog.direction == Direction.INBOUND,
            MailLog.sender == mail.from_address,
            MailLog.created_at >= now() - SENDER_WINDOW,
            MailLog.id < log_id,
            MailLog.status.in_((MailStatus.CREATED_TICKET, MailStatus.APPENDED, MailStatus.LOOP)),
        )
        .scalar_subquery()
        if count and mail.from_address
        else literal(0)
    )
    twin = select(MailLog.id, MailLog.ticket_id).where(MailLog.dedupe_key == key)
    row = session.execute(
        select(
            recent,
            twin.with_only_columns(MailLog.id).scalar_subquery(),
            twin.with_only_columns(MailLog.ticket_id).scalar_subquery(),
        )
    ).one()
    return int(row[0] or 0), (Earlier(row[1], row[2]) if row[1] is not None else None)


def _ticket_bytes(session: Session, ticket_id: int) -> int:
    """The room a mail reply's files have: counted as the requester sees the ticket, like theirs."""
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        return 0
    requester = auth_service.actor_for(session, users.get_user(session, ticket.customer_id))
    return readable_bytes(session, requester, ticket_id)


def _stage_files(store: FileStore, plan: _Plan) -> None:
    """Each file through the same checks as an upload; one that fails is left out and named in the
    message, the rest of the mail still arrives."""
    used = plan.used
    for file in plan.mail.files:
        try:
            staged = store.intake.receive_all(file.filename, [file.content], used=used)
        except (
            FileTooLarge,
            TicketAttachmentsTooLarge,
            UnsupportedFileType,
            VirusFound,
            FileNotScannable,
        ) as error:
            plan.refused_files.append(f"{file.filename}: {error.message}")
            continue
        plan.staged.append(staged)
        used += staged.size
        if file.content_id:
            plan.inline[file.content_id] = staged.sha256


def _discard(plan: _Plan) -> None:
    for staged in plan.staged:
        with contextlib.suppress(FileNotFoundError):
            staged.path.unlink()


def _carry_out(session: Session, entry: MailLog, plan: _Plan, settings: Settings, store: FileStore) -> None:
    """Record the outcome on the locked log entry, and post the mail if it is accepted."""
    with session.no_autoflush:  # the log entry is written once, with the outcome
        _decide(session, entry, plan, settings, store)
        mail = plan.mail
        entry.updated_at = now()
        # What the parser read is what counts: the log names who really wrote, and threading and
        # loop checks compare the parsed Message-ID.
        entry.sender = mail.from_address[:320]
        entry.message_id_header = (mail.message_id or "")[:255]
        entry.problems = list(mail.problems)
        entry.imap_pending = entry.imap_uid is not None
    session.flush()  # a concurrent twin fails here, on the unique dedupe_key


def _decide(session: Session, entry: MailLog, plan: _Plan, settings: Settings, store: FileStore) -> None:
    mail, verdict = plan.mail, plan.classification
    if verdict.verdict is Verdict.BOUNCE:
        undeliverable.record_bounce(session, entry, mail)
        return
    if verdict.verdict is not Verdict.ACCEPT:
        entry.status, entry.reason = VERDICT_STATUS[verdict.verdict], verdict.reason
        log.info("mail.held", mail_log_id=entry.id, status=entry.status.value, reason=verdict.reason)
        return
    earlier = plan.earlier
    if earlier is not None:
        entry.status, entry.ticket_id = MailStatus.DUPLICATE, earlier.ticket_id
        entry.reason = (
            f"The same mail (Message-ID {mail.message_id or 'none'}) was already ingested as #{earlier.id}."
        )
        return
    sender = users.find_user_by_email(session, mail.from_address)
    if sender is not None and not sender.is_active:
        entry.status, entry.reason = MailStatus.REJECTED, f"The account of {mail.from_address} is disabled."
        return
    if _deliver(session, entry, plan, settings, store, sender=sender):
        entry.dedupe_key = plan.key


def _deliver(
    session: Session,
    entry: MailLog,
    plan: _Plan,
    settings: Settings,
    store: FileStore,
    *,
    sender: User | None,
) -> bool:
    """Thread the mail, ask whether it may speak for its sender there (`admission`), and post it,
    hold it on the ticket, or hold it in the log."""
    mail = plan.mail
    match = matching.find_ticket(session, mail, secret=settings.secret_key, sender=sender)
    if match is None and plan.may_wait and _waits_for_answered(session, entry, mail):
        return False
    ticket = match.ticket if match is not None else None
    follow_up_of: Ticket | None = None
    if ticket is not None and ticket.status is TicketStatus.CLOSED:
        follow_up_of, ticket = ticket, None
    if (
        ticket is not None
        and sender is not None
        and sender.role.is_staff
        and not _staff_sees(session, sender, ticket)
    ):
        ticket = None
    decision = admission.decide(session, mail, settings, sender=sender, ticket=ticket, vouched=plan.vouched)
    if decision.admission is Admission.HOLD_MAIL:
        entry.status, entry.reason = MailStatus.HELD, decision.reason
        log.info("mail.held_for_review", mail_log_id=entry.id, reason=decision.reason)
        return False  # its staged files go with the cleanup; an admin's release stages them again
    if sender is None:
        sender = users.create_user(
            session, email=mail.from_address, name=_display_name(mail), role=Role.CUSTOMER
        )
    author = auth_service.actor_for(session, sender)
    files = NewFiles(max_ticket=store.intake.limits.max_ticket, staged=plan.staged) if plan.staged else None
    if ticket is not None and match is not None:
        held = None if decision.posts else decision.reason
        _append(session, entry, plan, author, ticket, files, held_reason=held)
        entry.reason = f"Threaded by {match.how}." + (f" Held for an agent: {held}" if held else "")
    else:
        ticket = _open(session, entry, plan, author, files)
        if follow_up_of is not None and participants.is_participant(session, follow_up_of, sender):
            entry.reason = f"A reply to the closed ticket {follow_up_of.number}: opened as a follow-up."
            followed = Change("follow_up_of", None, follow_up_of.number)
            ticket_changes.aside(session, None, ticket.id, [followed])
            ticket_changes.aside(session, None, follow_up_of.id, [Change("follow_up", None, ticket.number)])
    if decision.posts and ticket.customer_id == sender.id:
        own = plan.rules.own_addresses
        admission.enlist_copied(session, ticket, sender, mail, decision, settings, own_addresses=own)
    plan.staged.clear()  # stored and recorded: the cleanup must not touch them
    entry.ticket_id = ticket.id
    entry.user_id = sender.id
    log.info("mail.ingested", mail_log_id=entry.id, status=entry.status.value, ticket_id=ticket.id)
    return True


def _append(
    session: Session,
    entry: MailLog,
    plan: _Plan,
    author: Actor,
    ticket: Ticket,
    files: NewFiles | None,
    *,
    held_reason: str | None,
) -> None:
    mail = plan.mail
    used = 0  # the room left matters only to files
    if files is not None:
        used = plan.used if plan.ticket_id == ticket.id else _ticket_bytes(session, ticket.id)
    message = message_service.post_mail_reply(
        session,
        author,
        ticket.id,
        body=_with_refusals(mail.reply_text or mail.text or "(no text)", plan.refused_files),
        is_internal=author.is_staff,  # staff answer customers from the desk, never by accident
        mail_text=mail.text,
        mail_html=None if plan.inline else _mail_html(session, plan, ticket.id, None),
        files=files,
        used=used,
        held_reason=held_reason,
    )
    if plan.inline:
        message.mail_html = _mail_html(session, plan, ticket.id, message.id)
    entry.status, entry.message_id = MailStatus.APPENDED, message.id


def _open(session: Session, entry: MailLog, plan: _Plan, author: Actor, files: NewFiles | None) -> Ticket:
    mail = plan.mail
    ticket = ticket_service.create_ticket(
        session,
        author,
        title=(mail.subject or "(no subject)")[:200],
        description=_with_refusals(mail.reply_text or mail.text or "(no text)", plan.refused_files),
        department=plan.department_id,
        source=Source.EMAIL,
        files=files,
        mail=ticket_service.MailBody(
            mail.text, None if plan.inline else _mail_html(session, plan, None, None)
        ),
    )
    if plan.inline:  # its images point at the files just attached
        ticket.mail_html = _mail_html(session, plan, ticket.id, None)
    entry.status, entry.reason = MailStatus.CREATED_TICKET, "New ticket."
    return ticket


def _mail_html(session: Session, plan: _Plan, ticket_id: int | None, message_id: int | None) -> str | None:
    """The mail's HTML, sanitised once more here, its inline images pointing at their attachments
    (on the ticket, or its message, once they are attached)."""
    if plan.mail.html is None:
        return None
    images: dict[str, str] = {}
    if plan.inline and ticket_id is not None:
        session.flush()  # the files just recorded
        rows = session.scalars(
            select(Attachment).where(
                Attachment.ticket_id == ticket_id,
                Attachment.message_id.is_(None)
                if message_id is None
                else Attachment.message_id == message_id,
            )
        )
        by_hash = {row.blob_key: row for row in rows}
        for content_id, sha256 in plan.inline.items():
            row = by_hash.get(sha256)
            if row is not None and row.previewable:
                images[content_id] = f"{row.url}?inline=1"
    return sanitize_mail_html(plan.mail.html, images)


def _waits_for_answered(session: Session, entry: MailLog, mail: ParsedMail) -> bool:
    """Whether the mail answers one that came in before it and is not ingested yet (two workers
    took them at the same moment, or the first is held up by its files): then it stays received
    and is tried again shortly, to thread to that mail's ticket, for at most `ANSWER_WAIT`."""
    if as_utc(entry.created_at) < now() - ANSWER_WAIT:
        return False
    answered = matching.waiting_original(session, mail, before=entry.id)
    if answered is None:
        return False
    entry.reason = f"It answers mail #{answered}, which is not ingested yet: it waits for it."
    jobs.enqueue(session, mail_events.INGEST({"mail_log_id": entry.id}), delay_seconds=ANSWER_RETRY_SECONDS)
    log.info("mail.waits_for_answered", mail_log_id=entry.id, answered=answered)
    return True


def _staff_sees(session: Session, user: User, ticket: Ticket) -> bool:
    actor = auth_service.actor_for(session, user)
    found = session.scalar(readable_tickets(actor).with_only_columns(Ticket.id).where(Ticket.id == ticket.id))
    return found is not None


def _display_name(mail: ParsedMail) -> str:
    name = " ".join(mail.from_name.split())[:200]
    return name or mail.from_address.partition("@")[0][:200] or mail.from_address


def _with_refusals(text: str, refused: list[str]) -> str:
    if not refused:
        return text
    lines = "\n".join(f"- {line}" for line in refused)
    return f"{text}\n\n[Attachments not accepted:\n{lines}]"


def dedupe_key(mail: ParsedMail, raw: bytes) -> str:
    """The same Message-ID is the same mail; without one, the same bytes are."""
    basis = mail.message_id.encode() if mail.message_id else raw
    return hashlib.sha256(basis).hexdigest()


def _mark_duplicate(session: Session, log_id: int, plan: _Plan) -> bool:
    """Log the mail as a duplicate if another worker has just ingested the same one; False if
    the conflict was something else (nothing is marked then)."""
    entry = session.get(MailLog, log_id, with_for_update=True)
    if entry is None or entry.status is not MailStatus.RECEIVED:
        return True
    _, earlier = _seen_before(session, plan.mail, log_id, plan.key, count=False)
    if earlier is None:
        return False
    entry.status = MailStatus.DUPLICATE
    entry.ticket_id = earlier.ticket_id
    entry.reason = f"The same mail was ingested at the same moment by another worker (#{earlier.id})."
    entry.problems = list(plan.mail.problems)
    entry.imap_pending = entry.imap_uid is not None
    entry.updated_at = now()
    return True
