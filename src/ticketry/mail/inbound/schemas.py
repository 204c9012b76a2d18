"""Mailboxes and the mail log as the API shows and takes them.

A mailbox view is built field by field (`MailboxView.of`), never from the row's attributes, so
the sealed IMAP password cannot reach a response even if a field is added: it says
`hasPassword`. The webhook secret is shown once, by `WebhookSecretView`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from ticketry.core.schemas import Id, Input, Schema
from ticketry.mail.inbound import service as mail_service
from ticketry.mail.inbound.models import Mailbox, ProcessedAction
from ticketry.mail.log.models import Direction, MailLog, MailStatus
from ticketry.mailparse.imap import ImapSecurity


class MailboxView(Schema):
    id: int
    name: str
    address: str
    department_id: int
    is_active: bool
    imap_host: str = Field(description="Empty: the mailbox only receives through the webhook.")
    imap_port: int
    imap_security: ImapSecurity
    imap_username: str
    has_password: bool = Field(description="An IMAP password is stored; it is never shown.")
    imap_folder: str
    processed_action: ProcessedAction
    processed_folder: str
    poll_interval_seconds: int
    webhook_enabled: bool = Field(description="A webhook secret is set (POST /mail/inbound).")
    uidvalidity: int | None
    last_uid: int
    next_poll_at: datetime
    last_polled_at: datetime | None
    last_error: str = Field(description="Why the last poll failed; empty when it worked.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, mailbox: Mailbox) -> MailboxView:
        return cls(
            id=mailbox.id,
            name=mailbox.name,
            address=mailbox.address,
            department_id=mailbox.department_id,
            is_active=mailbox.is_active,
            imap_host=mailbox.imap_host,
            imap_port=mailbox.imap_port,
            imap_security=mailbox.imap_security,
            imap_username=mailbox.imap_username,
            has_password=bool(mailbox.imap_password_sealed),
            imap_folder=mailbox.imap_folder,
            processed_action=mailbox.processed_action,
            processed_folder=mailbox.processed_folder,
            poll_interval_seconds=mailbox.poll_interval_seconds,
            webhook_enabled=mailbox.webhook_secret_hash is not None,
            uidvalidity=mailbox.uidvalidity,
            last_uid=mailbox.last_uid,
            next_poll_at=mailbox.next_poll_at,
            last_polled_at=mailbox.last_polled_at,
            last_error=mailbox.last_error,
            created_at=mailbox.created_at,
            updated_at=mailbox.updated_at,
        )


class MailboxCreate(Input):
    name: str = Field(min_length=1, max_length=100)
    address: str = Field(min_length=3, max_length=254, description="The support address mail comes to.")
    department_id: Id = Field(description="New tickets from this mailbox go to this department.")
    is_active: bool = True
    imap_host: str = Field(default="", max_length=255, description="Empty for a webhook-only mailbox.")
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_security: ImapSecurity = Field(
        default=ImapSecurity.TLS,
        description="`none` sends the password in clear text: only for a server on the same machine.",
    )
    imap_username: str = Field(default="", max_length=320)
    # Spaces may be part of a password: this field alone is not stripped.
    imap_password: Annotated[str, StringConstraints(strip_whitespace=False)] | None = Field(
        default=None, max_length=1000, description="Write-only."
    )
    imap_folder: str = Field(default="INBOX", max_length=255)
    processed_action: ProcessedAction = Field(
        default=ProcessedAction.MARK_SEEN, description="Mark ingested mail as read, or move it."
    )
    processed_folder: str = Field(default="Processed", max_length=255, description="Where `move` moves it.")
    poll_interval_seconds: int = Field(
        default=60, ge=mail_service.MIN_POLL_SECONDS, le=mail_service.MAX_POLL_SECONDS
    )

    def fields(self) -> mail_service.MailboxFields:
        return mail_service.MailboxFields(**self.model_dump())


class MailboxUpdate(Input):
    """What is sent changes; an empty or missing `imapPassword` keeps the stored one."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    address: str | None = Field(default=None, min_length=3, max_length=254)
    department_id: Id | None = None
    is_active: bool | None = None
    imap_host: str | None = Field(default=None, max_length=255)
    imap_port: int | None = Field(default=None, ge=1, le=65535)
    imap_security: ImapSecurity | None = None
    imap_username: str | None = Field(default=None, max_length=320)
    # Spaces may be part of a password: this field alone is not stripped.
    imap_password: Annotated[str, StringConstraints(strip_whitespace=False)] | None = Field(
        default=None, max_length=1000, description="Write-only."
    )
    imap_folder: str | None = Field(default=None, max_length=255)
    processed_action: ProcessedAction | None = None
    processed_folder: str | None = Field(default=None, max_length=255)
    poll_interval_seconds: int | None = Field(
        default=None, ge=mail_service.MIN_POLL_SECONDS, le=mail_service.MAX_POLL_SECONDS
    )

    def fields(self) -> mail_service.MailboxFields:
        return mail_service.MailboxFields(**self.model_dump())


class ConnectionTestView(Schema):
    ok: bool = Field(description="The server took the user name and password and opened the folder.")
    message: str = Field(description="The number of messages in the folder, or what went wrong.")


class WebhookSecretView(Schema):
    secret: str = Field(description="Shown this once; send it as `Authorization: Bearer <secret>`.")
    url: str = Field(description="Where to POST the raw mail.")


class MailLogItem(Schema):
    """One mail in the log; the raw mail is downloaded separately (`/mail/log/{id}/raw`)."""

    id: int
    direction: Direction
    status: MailStatus
    reason: str = Field(description="Why it was held, refused or failed; what became of it.")
    purpose: str = Field(description="Outbound: what the mail was for; inbound: `imap` or `webhook`.")
    message_id_header: str = Field(description="The Message-ID header.")
    sender: str
    recipients: str = Field(description="Comma-separated addresses.")
    subject: str
    ticket_id: int | None
    message_id: int | None = Field(description="The ticket message it became, or was sent for.")
    mailbox_id: int | None
    attempts: int
    problems: list[str] = Field(
        description="Inbound: what had to be cut, ignored or guessed while reading the mail."
    )
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None


class MailLogView(MailLogItem):
    has_raw: bool = Field(description="The raw mail is kept and can be downloaded.")
    reprocessable: bool = Field(description="POST /mail/log/{id}/reprocess would take it.")
    imap_uidvalidity: int | None
    imap_uid: int | None

    @classmethod
    def of(cls, entry: MailLog) -> MailLogView:
        """`entry.raw` must be loaded (`mail_service.get_mail` loads it)."""
        item = MailLogItem.model_validate(entry)
        return cls(
            **item.model_dump(by_alias=False),
            has_raw=entry.raw is not None,
            reprocessable=mail_service.reprocessable(entry),
            imap_uidvalidity=entry.imap_uidvalidity,
            imap_uid=entry.imap_uid,
        )


class InboundReceived(Schema):
    id: int = Field(description="The mail's entry in the mail log.")
    status: MailStatus = Field(description="Always `received`: stored, and queued for ingestion.")
