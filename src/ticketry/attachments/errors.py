"""What can go wrong with a file, each with the status the API answers."""

from __future__ import annotations

from ticketry.core.errors import DomainError, NotFound, ValidationFailed


class FileTooLarge(DomainError):
    code = "file_too_large"
    status = 413


class TicketAttachmentsTooLarge(DomainError):
    code = "ticket_attachments_too_large"
    status = 413


class UnsupportedFileType(DomainError):
    code = "unsupported_file_type"
    status = 415


class VirusFound(DomainError):
    code = "virus_found"
    status = 422


class FileNotScannable(DomainError):
    code = "file_not_scannable"
    status = 422


class ScannerUnavailable(DomainError):
    code = "scanner_unavailable"
    status = 503


class MalformedUpload(ValidationFailed):
    code = "malformed_upload"


class AttachmentUnavailable(ValidationFailed):
    """An attachment id that is not one of the caller's own unsent uploads."""

    code = "attachment_unavailable"


class AttachmentNotFound(NotFound):
    pass


class AttachmentInUse(DomainError):
    code = "attachment_in_use"
    status = 409


class ContentUnavailable(DomainError):
    """The file is recorded but its content cannot be read from storage (logged for admins)."""

    code = "content_unavailable"
    status = 503
