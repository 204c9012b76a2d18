"""Virus scanning with ClamAV's daemon over its INSTREAM protocol (clamd(8)).

The file is sent in length-prefixed chunks and clamd answers `stream: OK` or
`stream: <signature> FOUND`. clamd refuses streams above its `StreamMaxLength` (25 MB by
default): set it at least to the per-file upload limit.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import structlog

from ticketry.attachments.errors import FileNotScannable, ScannerUnavailable, VirusFound

log = structlog.get_logger(__name__)
CHUNK = 256 * 1024


class ScannerFailed(Exception):
    """clamd could not be reached, or stopped answering."""


class Unscannable(Exception):
    """clamd answered, but with an error about this file (e.g. above its StreamMaxLength)."""


@dataclass(frozen=True)
class ClamdScanner:
    url: str  # tcp://host:port or unix:///path
    timeout: float
    required: bool = True

    def _connect(self) -> socket.socket:
        parts = urlsplit(self.url)
        try:
            if parts.scheme == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.settimeout(self.timeout)
                    sock.connect(parts.path)
                except OSError:
                    sock.close()
                    raise
                return sock
            if parts.scheme == "tcp" and parts.hostname and parts.port:
                return socket.create_connection((parts.hostname, parts.port), timeout=self.timeout)
        except OSError as error:
            raise ScannerFailed(f"cannot reach clamd at {self.url}: {error}") from error
        raise ScannerFailed(f"TICKETRY_CLAMAV_URL must be tcp://host:port or unix:///path, not {self.url!r}")

    def verdict(self, path: Path) -> str | None:
        """The signature found in the file, or None when it is clean."""
        with self._connect() as sock:
            try:
                sock.sendall(b"zINSTREAM\0")
                with path.open("rb") as source:
                    while chunk := source.read(CHUNK):
                        sock.sendall(struct.pack(">I", len(chunk)) + chunk)
                sock.sendall(struct.pack(">I", 0))
            except OSError as error:
                # clamd hangs up mid-stream when the file is over its limit; its reply says so.
                reply = _read_reply(sock, quietly=True)
                if not reply:
                    raise ScannerFailed(f"clamd at {self.url} failed during the scan: {error}") from error
            else:
                try:
                    reply = _read_reply(sock)
                except OSError as error:
                    raise ScannerFailed(f"clamd at {self.url} did not answer: {error}") from error
        if reply.endswith(" FOUND"):
            return reply.removeprefix("stream: ").removesuffix(" FOUND").strip()
        if reply.endswith(" OK"):
            return None
        if not reply:
            raise ScannerFailed(f"clamd at {self.url} closed the connection without a verdict")
        raise Unscannable(reply)

    def ping(self) -> bool:
        try:
            with self._connect() as sock:
                sock.sendall(b"zPING\0")
                return _read_reply(sock) == "PONG"
        except (ScannerFailed, OSError):
            return False

    def check(self, path: Path, filename: str) -> None:
        """Refuse an infected file; refuse any file while the scanner is down, if required."""
        try:
            found = self.verdict(path)
        except Unscannable as error:
            # Never stored unscanned, whatever TICKETRY_CLAMAV_REQUIRED says: only an absent
            # scanner may be waived, not one that looked at this file and could not judge it.
            log.warning("attachments.unscannable", reply=str(error), filename=filename)
            raise FileNotScannable(
                f"The file {filename!r} could not be checked for viruses ({error}), so it was not accepted. "
                "Files this large may be above the scanner's limit.",
                details={"filename": filename},
            ) from error
        except ScannerFailed as error:
            if self.required:
                log.error("attachments.scanner_unavailable", error=str(error), filename=filename)
                raise ScannerUnavailable(
                    "Files cannot be checked for viruses right now, so uploads are paused. "
                    "Try again in a few minutes."
                ) from error
            log.warning("attachments.stored_unscanned", error=str(error), filename=filename)
            return
        if found is not None:
            log.warning("attachments.infected", signature=found, filename=filename)
            raise VirusFound(
                f"The file {filename!r} contains a virus ({found}) and was not accepted.",
                details={"signature": found},
            )


def _read_reply(sock: socket.socket, *, quietly: bool = False) -> str:
    data = b""
    try:
        while not data.endswith(b"\0") and len(data) <= 4096:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except OSError:
        if not quietly:
            raise
    return data.rstrip(b"\0").decode(errors="replace").strip()
