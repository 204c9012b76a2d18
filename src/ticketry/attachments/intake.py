"""Receiving a file: streamed to a private staging file while hashed and counted, then checked.

Limits are enforced while the bytes arrive, so an oversized upload is refused at the first
byte over the limit, and its staging file is removed. Nothing is stored or recorded until the
file has passed every check: size, type by content, virus scan.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from ticketry.attachments import kinds
from ticketry.attachments.errors import FileTooLarge, TicketAttachmentsTooLarge, UnsupportedFileType
from ticketry.attachments.kinds import Kind
from ticketry.attachments.names import extension, sanitize_filename
from ticketry.attachments.scan import ClamdScanner
from ticketry.attachments.storage import Storage, open_storage
from ticketry.core.config import Settings


class Scanner(Protocol):
    def check(self, path: Path, filename: str) -> None: ...


@dataclass(frozen=True)
class Limits:
    max_file: int
    max_ticket: int
    allowed: frozenset[str]  # kind names; empty means every kind

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_file=int(settings.attachment_max_file_size),
            max_ticket=int(settings.attachment_max_ticket_size),
            allowed=kinds.parse_allowed(settings.attachment_types),
        )


def human_size(size: int) -> str:
    """`1 byte`, `900 bytes`, `1.5 KB`, `50.0 MB` (binary units; web/static/uploads.js agrees)."""
    if size < 1024:
        return "1 byte" if size == 1 else f"{size} bytes"
    value = size / 1024
    for unit in ("KB", "MB"):
        if round(value, 1) < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GB"


@dataclass
class StagedFile:
    """A received file that passed every check, waiting in staging to be stored."""

    path: Path
    filename: str
    kind: Kind
    size: int
    sha256: str


@dataclass
class Receiver:
    """One file arriving: `write` each chunk as it comes, then `finish` (or `abort`)."""

    intake: Intake
    filename: str
    budget: int  # bytes this file may still take (the smaller of the file and ticket limits)
    budget_is_ticket: bool
    path: Path
    handle: IO[bytes]
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    size: int = 0
    head: bytearray = field(default_factory=bytearray)

    def write(self, chunk: bytes | memoryview) -> None:
        self.size += len(chunk)
        if self.size > self.budget:
            self.abort()
            if self.budget_is_ticket:
                raise TicketAttachmentsTooLarge(
                    f"{self.filename!r} does not fit: a ticket's files may add up to "
                    f"{human_size(self.intake.limits.max_ticket)}.",
                    details={"limit": self.intake.limits.max_ticket, "filename": self.filename},
                )
            raise FileTooLarge(
                f"{self.filename!r} is larger than the limit of {human_size(self.intake.limits.max_file)}.",
                details={"limit": self.intake.limits.max_file, "filename": self.filename},
            )
        if len(self.head) < kinds.HEAD_BYTES:
            self.head += chunk[: kinds.HEAD_BYTES - len(self.head)]
        self.digest.update(chunk)
        self.handle.write(chunk)

    def finish(self) -> StagedFile:
        try:
            self.handle.flush()
            os.fsync(self.handle.fileno())
            self.handle.close()
            verdict = kinds.identify(bytes(self.head), extension(self.filename), self.intake.limits.allowed)
            if verdict.kind is None:
                raise UnsupportedFileType(verdict.reason, details={"filename": self.filename})
            if self.intake.scanner is not None:
                self.intake.scanner.check(self.path, self.filename)
        except BaseException:
            self.abort()
            raise
        return StagedFile(self.path, self.filename, verdict.kind, self.size, self.digest.hexdigest())

    def abort(self) -> None:
        self.handle.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


@dataclass(frozen=True)
class Intake:
    limits: Limits
    staging_dir: Path
    scanner: Scanner | None = None

    def receive(self, raw_filename: str, *, used: int = 0) -> Receiver:
        """Start receiving a file for a ticket whose files already take `used` bytes."""
        filename = sanitize_filename(raw_filename)
        room = self.limits.max_ticket - used
        fd, name = tempfile.mkstemp(dir=self.staging_dir, prefix="upload-")
        return Receiver(
            intake=self,
            filename=filename,
            budget=min(self.limits.max_file, room),
            budget_is_ticket=room < self.limits.max_file,
            path=Path(name),
            handle=os.fdopen(fd, "wb"),
        )

    def receive_all(self, raw_filename: str, chunks: Iterable[bytes], *, used: int = 0) -> StagedFile:
        receiver = self.receive(raw_filename, used=used)
        try:
            for chunk in chunks:
                receiver.write(chunk)
        except BaseException:
            receiver.abort()
            raise
        return receiver.finish()


@contextlib.contextmanager
def staged_batch() -> Iterator[list[StagedFile]]:
    """Staged files are removed when the request is done, stored or not."""
    batch: list[StagedFile] = []
    try:
        yield batch
    finally:
        for staged in batch:
            with contextlib.suppress(FileNotFoundError):
                staged.path.unlink()


@dataclass(frozen=True)
class FileStore:
    """Everything a process needs to take in and hand out files, built once from settings."""

    storage: Storage
    intake: Intake

    @classmethod
    def from_settings(cls, settings: Settings) -> FileStore:
        storage = open_storage(settings)
        scanner = (
            ClamdScanner(
                settings.clamav_url,
                timeout=settings.clamav_timeout_seconds,
                required=settings.clamav_required,
            )
            if settings.clamav_url
            else None
        )
        return cls(storage, Intake(Limits.from_settings(settings), storage.staging_dir, scanner))
