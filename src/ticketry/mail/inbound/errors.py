"""Errors of the inbound mail channel."""

from __future__ import annotations

from ticketry.core.errors import Conflict, DomainError, NotFound, ValidationFailed


class MailboxNotFound(NotFound):
    code = "mailbox_not_found"


class MailboxAddressTaken(Conflict):
    code = "mailbox_address_taken"


class InvalidMailbox(ValidationFailed):
    code = "invalid_mailbox"


class MailNotFound(NotFound):
    code = "mail_not_found"


class MailNotReprocessable(Conflict):
    code = "mail_not_reprocessable"


class InvalidWebhookSecret(DomainError):
    code = "invalid_webhook_secret"
    status = 401


class InboundMailTooLarge(DomainError):
    code = "mail_too_large"
    status = 413


class MailEmpty(ValidationFailed):
    code = "mail_empty"
