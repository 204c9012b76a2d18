"""Mailboxes and the mail log, as admins manage them (issue 5 parts 1 and 7), and the webhook.

Every function here needs `admin:mail` except `receive_webhook`, which is authenticated by the
mailbox's own secret. A mailbox's IMAP password is sealed (`core.crypto`) and never leaves this
module: views carry `has_password`, never the value. The webhook secret is stored hashed and
shown once, when it is made.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, defer

from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.core import crypto
from ticketry.core.clock import now
from ticketry.core.config import get_settings
from ticketry.core.db import Database
from ticketry.core.pagination import Page, PageRequest, count_rows
from ticketry.mail.inbound import receive
from ticketry.mail.inbound.errors import (
    InboundMailTooLarge,
    InvalidMailbox,
    InvalidWebhookSecret,
    MailboxAddressTaken,
    MailboxNotFound,
    MailEmpty,
    MailNotFound,
    MailNotReprocessable,
)
from ticketry.mail.inbound.models import Mailbox, ProcessedAction
from ticketry.mail.log.models import REPROCESSABLE, Direction, MailLog, MailStatus
from ticketry.mail.outbound import service as outbound
from ticketry.mail.outbound.compose import InvalidAddress, address
from ticketry.mailparse import imap
from ticketry.mailparse.imap import ImapAccount, ImapError, ImapSecurity
from ticketry.mailparse.parse import parse
from ticketry.users import service as users

SEAL_PURPOSE = "mailbox-imap"
MIN_POLL_SECONDS = 10
MAX_POLL_SECONDS = 86400
WEBHOOK_PATH = "/api/v1/mail/inbound"
# The connection test runs while an admin waits for the page.
PROBE_TIMEOUT_SECONDS = 15.0
HELD = frozenset(
    {MailStatus.SPAM_HELD, MailStatus.LOOP, MailStatus.AUTO_REPLY, MailStatus.REJECTED, MailStatus.HELD}
)


# --- mailboxes ----------------------------------------------------------------------------------


@dataclass
class MailboxFields:
    """What an admin sets; `None` keeps the current value (on update). An empty `imap_password`
    keeps the stored one; the password is never shown back."""

    name: str | None = None
    address: str | None = None
    department_id: int | None = None
    is_active: bool | None = None
    imap_host: str | None = None
    imap_port: int | None = None
    imap_security: ImapSecurity | None = None
    imap_username: str | None = None
    imap_password: str | None = None
    imap_folder: str | None = None
    processed_action: ProcessedAction | None = None
    processed_folder: str | None = None
    poll_interval_seconds: int | None = None


def list_mailboxes(session: Session, actor: Actor) -> list[Mailbox]:
    require(actor, Permission.ADMIN_MAIL)
    return list(session.scalars(select(Mailbox).order_by(Mailbox.name, Mailbox.id)))


def get_mailbox(session: Session, actor: Actor, mailbox_id: int, *, lock: bool = False) -> Mailbox:
    require(actor, Permission.ADMIN_MAIL)
    mailbox = session.get(Mailbox, mailbox_id, with_for_update=lock)
    if mailbox is None:
        raise MailboxNotFound(f"Mailbox {mailbox_id} not found.", details={"mailboxId": mailbox_id})
    return mailbox


def create_mailbox(session: Session, actor: Actor, fields: MailboxFields) -> Mailbox:
    require(actor, Permission.ADMIN_MAIL)
    if not fields.name or not fields.address or fields.department_id is None:
        raise InvalidMailbox("A mailbox needs a name, an address and a department.")
    # Every column set before `_apply`: its checks compare fields (the folder polled and the one
    # processed mail moves to), and column defaults only arrive at the INSERT.
    mailbox = Mailbox(
        is_active=True,
        imap_host="",
        imap_port=993,
        imap_security=ImapSecurity.TLS,
        imap_username="",
        imap_password_sealed="",
        imap_folder="INBOX",
        processed_action=ProcessedAction.MARK_SEEN,
        processed_folder="Processed",
        poll_interval_seconds=60,
        last_error="",
        last_uid=0,
        next_poll_at=now(),
    )
    _apply(session, mailbox, fields)
    session.add(mailbox)
    session.flush()
    return mailbox


def update_mailbox(session: Session, actor: Actor, mailbox_id: int, fields: MailboxFields) -> Mailbox:
    mailbox = get_mailbox(session, actor, mailbox_id, lock=True)
    before = (mailbox.imap_host, mailbox.imap_port, mailbox.imap_username, mailbox.imap_folder)
    _apply(session, mailbox, fields)
    if (mailbox.imap_host, mailbox.imap_port, mailbox.imap_username, mailbox.imap_folder) != before:
        # Another server or folder: its UIDs mean nothing to the old position.
        mailbox.uidvalidity, mailbox.last_uid = None, 0
    mailbox.next_poll_at = now()
    mailbox.updated_at = now()
    session.flush()
    return mailbox


def delete_mailbox(session: Session, actor: Actor, mailbox_id: int) -> None:
    """The mailbox goes; the mail it brought stays in the log and on its tickets."""
    mailbox = get_mailbox(session, actor, mailbox_id, lock=True)
    session.delete(mailbox)
    session.flush()


def poll_now(session: Session, actor: Actor, mailbox_id: int) -> Mailbox:
    mailbox = get_mailbox(session, actor, mailbox_id, lock=True)
    mailbox.next_poll_at = now()
    return mailbox


def rotate_webhook_secret(session: Session, actor: Actor, mailbox_id: int) -> str:
    """A new secret for the inbound webhook (the old one stops working); returned once."""
    mailbox = get_mailbox(session, actor, mailbox_id, lock=True)
    secret = "whsec_" + secrets.token_urlsafe(32)
    mailbox.webhook_secret_hash = _digest(secret)
    mailbox.updated_at = now()
    return secret


def webhook_url() -> str:
    """Where a mail provider pushes raw mail for the webhook (`TICKETRY_PUBLIC_URL` based)."""
    return get_settings().public_url.rstrip("/") + WEBHOOK_PATH


def disable_webhook(session: Session, actor: Actor, mailbox_id: int) -> Mailbox:
    mailbox = get_mailbox(session, actor, mailbox_id, lock=True)
    mailbox.webhook_secret_hash = None
    mailbox.updated_at = now()
    return mailbox


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str  # the probe's report, or what went wrong, for the admin


def check_connection(db: Database, actor: Actor, mailbox_id: int) -> ConnectionCheck:
    """The admin's "test connection" with the saved settings: log in and open the folder. The
    mailbox is read in a short transaction of its own, so none is open while the server takes
    its time; a refusal is an answer (`ok` false), not an error."""
    with db.unit_of_work(write=False) as session:
        mailbox = get_mailbox(session, actor, mailbox_id)
        if not mailbox.imap_host:
            return ConnectionCheck(
                False, "This mailbox has no IMAP server; it receives mail through the webhook."
            )
        try:
            account = imap_account(mailbox)
        except crypto.SealBroken:
            return ConnectionCheck(
                False, "The stored password cannot be read (the secret key changed); enter it again."
            )
    try:
        return ConnectionCheck(
            True, imap.probe(dataclasses.replace(account, timeout_seconds=PROBE_TIMEOUT_SECONDS))
        )
    except ImapError as error:
        return ConnectionCheck(False, str(error))


def imap_account(mailbox: Mailbox) -> ImapAccount:
    """The connection settings of a mailbox, password unsealed (for the poller only)."""
    settings = get_settings()
    password = (
        crypto.unseal(SEAL_PURPOSE, mailbox.imap_password_sealed) if mailbox.imap_password_sealed else ""
    )
    return ImapAccount(
        host=mailbox.imap_host,
        port=mailbox.imap_port,
        security=mailbox.imap_security,
        username=mailbox.imap_username,
        password=password,
        folder=mailbox.imap_folder,
        timeout_seconds=30.0,
        ca_file=settings.mail_ca_file or None,
    )


def _apply(session: Session, mailbox: Mailbox, fields: MailboxFields) -> None:
    if fields.name is not None:
        name = " ".join(fields.name.split())
        if not name or len(name) > 100:
            raise InvalidMailbox("The name must be 1 to 100 characters.", details={"name": fields.name[:120]})
        mailbox.name = name
    if fields.address is not None:
        try:
            normalized = str(address(fields.address).addr_spec).lower()
        except (InvalidAddress, ValueError, IndexError) as error:
            raise InvalidMailbox(
                "Not a valid e-mail address.", details={"address": fields.address[:320]}
            ) from error
        taken = session.scalar(
            select(Mailbox.id).where(Mailbox.address == normalized, Mailbox.id != mailbox.id)
        )
        if taken is not None:
            raise MailboxAddressTaken(
                "Another mailbox already has this address.", details={"address": normalized}
            )
        mailbox.address = normalized
    if fields.department_id is not None:
        users.departments_by_ids(session, [fields.department_id])  # 404s on an unknown one
        mailbox.department_id = fields.department_id
    if fields.is_active is not None:
        mailbox.is_active = fields.is_active
    if fields.imap_host is not None:
        host = fields.imap_host.strip()
        if any(ch.isspace() or ord(ch) < 32 for ch in host) or len(host) > 255:
            raise InvalidMailbox("Not a valid host name.", details={"imapHost": fields.imap_host[:255]})
        mailbox.imap_host = host
    if fields.imap_port is not None:
        if not 1 <= fields.imap_port <= 65535:
            raise InvalidMailbox(
                "The port must be between 1 and 65535.", details={"imapPort": fields.imap_port}
            )
        mailbox.imap_port = fields.imap_port
    if fields.imap_security is not None:
        mailbox.imap_security = fields.imap_security
    if fields.imap_username is not None:
        mailbox.imap_username = _line(fields.imap_username, "imapUsername", 320)
    if fields.imap_password:
        mailbox.imap_password_sealed = crypto.seal(SEAL_PURPOSE, _password(fields.imap_password))
    if fields.imap_folder is not None:
        mailbox.imap_folder = _line(fields.imap_folder, "imapFolder", 255) or "INBOX"
    if fields.processed_action is not None:
        mailbox.processed_action = fields.processed_action
    if fields.processed_folder is not None:
        mailbox.processed_folder = _line(fields.processed_folder, "processedFolder", 255) or "Processed"
    if fields.poll_interval_seconds is not None:
        if not MIN_POLL_SECONDS <= fields.poll_interval_seconds <= MAX_POLL_SECONDS:
            raise InvalidMailbox(
                f"Poll every {MIN_POLL_SECONDS} to {MAX_POLL_SECONDS} seconds.",
                details={"pollIntervalSeconds": fields.poll_interval_seconds},
            )
        mailbox.poll_interval_seconds = fields.poll_interval_seconds
    if mailbox.processed_action is ProcessedAction.MOVE and mailbox.processed_folder == mailbox.imap_folder:
        raise InvalidMailbox("Move processed mail to another folder than the one polled.")
    if mailbox.imap_host and not mailbox.imap_username:
        raise InvalidMailbox("An IMAP mailbox needs a user name.", details={"imapUsername": ""})


def _password(value: str) -> str:
    """Kept as typed (spaces may belong to it), but never a line break: it goes into LOGIN."""
    if len(value) > 1000 or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidMailbox(
            "The password must be at most 1000 characters without control characters.",
            details={"imapPassword": ""},
        )
    return value


def _line(value: str, field: str, limit: int) -> str:
    """One line of text that goes into an IMAP command: no control characters at all."""
    value = value.strip()
    if len(value) > limit or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidMailbox(
            f"Must be at most {limit} characters without line breaks or control characters.",
            details={field: ""},
        )
    return value


# --- the webhook --------------------------------------------------------------------------------


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def webhook_mailbox(session: Session, secret: str) -> Mailbox:
    """The active mailbox this secret belongs to; 401 otherwise (no hint which part was wrong)."""
    digest = _digest(secret)
    mailbox = session.scalars(select(Mailbox).where(Mailbox.webhook_secret_hash == digest)).one_or_none()
    if (
        mailbox is None
        or not mailbox.is_active
        or not hmac.compare_digest(mailbox.webhook_secret_hash or "", digest)
    ):
        raise InvalidWebhookSecret("The webhook secret is not valid for any active mailbox.")
    return mailbox


def receive_webhook(session: Session, mailbox: Mailbox, raw: bytes) -> MailLog:
    """Store a pushed mail and queue it; once this commits the mail cannot be lost."""
    if len(raw) > int(get_settings().mail_max_message_size):
        raise InboundMailTooLarge("The mail is larger than TICKETRY_MAIL_MAX_MESSAGE_SIZE.")
    if not raw.strip():
        raise MailEmpty("The request body is empty; send the raw mail (message/rfc822).")
    return receive.receive(session, raw, mailbox_id=mailbox.id, via="webhook")


# --- the mail log -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MailLogFilter:
    direction: Direction | None = None
    status: MailStatus | None = None
    mailbox_id: int | None = None
    query: str = ""  # in sender, recipients, subject or Message-ID
    since: datetime | None = None


def list_mail(session: Session, actor: Actor, filters: MailLogFilter, page: PageRequest) -> Page[MailLog]:
    require(actor, Permission.ADMIN_MAIL)
    # The raw mail (up to TICKETRY_MAIL_MAX_MESSAGE_SIZE each) is for one entry at a time.
    query = select(MailLog).options(defer(MailLog.raw, raiseload=True)).order_by(MailLog.id.desc())
    if filters.direction is not None:
        query = query.where(MailLog.direction == filters.direction)
    if filters.status is not None:
        query = query.where(MailLog.status == filters.status)
    if filters.mailbox_id is not None:
        query = query.where(MailLog.mailbox_id == filters.mailbox_id)
    if filters.since is not None:
        query = query.where(MailLog.created_at >= filters.since)
    text = filters.query.strip()[:200]
    if text:
        pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                MailLog.sender.ilike(pattern, escape="\\"),
                MailLog.recipients.ilike(pattern, escape="\\"),
                MailLog.subject.ilike(pattern, escape="\\"),
                MailLog.message_id_header.ilike(pattern, escape="\\"),
            )
        )
    items = list(session.scalars(query.limit(page.page_size).offset(page.offset)))
    return Page(items=items, total=count_rows(session, query, cap=10000), request=page)


def get_mail(session: Session, actor: Actor, mail_id: int, *, lock: bool = False) -> MailLog:
    require(actor, Permission.ADMIN_MAIL)
    entry = session.get(MailLog, mail_id, with_for_update=lock)
    if entry is None:
        raise MailNotFound(f"Mail {mail_id} not found.", details={"mailId": mail_id})
    return entry


NO_SENDER = (
    "This mail has no usable sender address (From), so processing it again cannot make a ticket "
    "or a reply of it: it stays as it is. Download it to read it."
)


def senderless(entry: MailLog) -> bool:
    """A held or refused mail that names nobody who could have written it: releasing it skips
    the check that refused it, and once made a customer without an address (issue 14 A.1). The
    logged sender is what the parser read; only a blank one is read again, in case the parser
    has learnt to find one since (its raw mail must be loaded)."""
    if entry.direction is not Direction.INBOUND or entry.status not in HELD or entry.raw is None:
        return False
    if users.is_valid_email(entry.sender):
        return False
    return not users.is_valid_email(parse(entry.raw).from_address)


def reprocessable(entry: MailLog) -> bool:
    """Whether `reprocess` takes this entry (its raw mail must be loaded)."""
    if entry.raw is None:
        return False
    if entry.direction is Direction.OUTBOUND:
        return entry.status is MailStatus.FAILED
    return entry.status in REPROCESSABLE and not senderless(entry)


def reprocess(session: Session, actor: Actor, mail_id: int) -> MailLog:
    """Inbound mail that was held, refused or failed goes through ingestion again; held mail is
    released (the admin vouches for it), so it is not held again for the same reason. Outbound
    mail that failed is sent again. A mail still waiting (`received`, e.g. after its job died)
    is queued once more; ingestion takes it only once. Held or refused mail without a usable
    sender is refused (`senderless`): it stays as it is."""
    entry = get_mail(session, actor, mail_id, lock=True)
    if senderless(entry):
        raise MailNotReprocessable(NO_SENDER, details={"status": entry.status.value})
    if not reprocessable(entry):
        raise MailNotReprocessable(
            "Only mail that was held, refused or failed can be processed again.",
            details={"status": entry.status.value},
        )
    if entry.direction is Direction.OUTBOUND:
        outbound.resend(session, entry)
        return entry
    # Releasing spam or a loop says nothing of who wrote it: only a hold for want of proof of the
    # sender (`held`) is vouched for, and everything else still meets the sender checks.
    receive.requeue(session, entry, release=entry.status in HELD, vouch=entry.status is MailStatus.HELD)
    return entry


def raw_mail(session: Session, actor: Actor, mail_id: int) -> bytes:
    """The mail as received (or sent), for an admin to download; account mail keeps none."""
    entry = get_mail(session, actor, mail_id)
    if entry.raw is None:
        raise MailNotFound("This mail's content is not kept.", details={"mailId": mail_id})
    return entry.raw
