"""Files over raw HTTP/1.1: multipart uploads generated as they are sent, downloads read and dropped.

Neither direction holds a file in the client's memory, so a 50 MB transfer does not distort a
machine the client shares with the server. A payload is a unique head followed by one shared
1 MiB random block repeated: every file has its own content and SHA-256 (storage never
deduplicates one against another), yet costs nothing to produce. It starts like a PDF and is
named `bench.pdf`, a type the server accepts by content.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

CHUNK = 256 * 1024
BLOCK = os.urandom(1024 * 1024)
BOUNDARY = f"ticketry-bench-{secrets.token_hex(12)}"
FILENAME = "bench.pdf"


class TransferError(Exception):
    pass


@dataclass(frozen=True)
class Payload:
    size: int
    tag: str  # unique per file and run

    def chunks(self) -> Iterator[bytes | memoryview]:
        head = f"%PDF-1.7\n%{self.tag}\n".encode()[: self.size]
        yield head
        remaining, offset, block = self.size - len(head), 0, memoryview(BLOCK)
        while remaining > 0:
            take = min(CHUNK, remaining, len(BLOCK) - offset)
            yield block[offset : offset + take]
            remaining -= take
            offset = (offset + take) % len(BLOCK)

    def sha256(self) -> str:
        digest = hashlib.sha256()
        for chunk in self.chunks():
            digest.update(chunk)
        return digest.hexdigest()


class Client:
    """One keep-alive connection to 127.0.0.1, authenticated with a bearer token."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.token = token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port, limit=CHUNK)
        return self.reader, self.writer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    def _head(self, method: str, path: str, extra: str = "") -> bytes:
        return (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Authorization: Bearer {self.token}\r\n{extra}\r\n"
        ).encode()

    async def upload(self, payload: Payload) -> dict[str, Any]:
        """POST /api/v1/attachments with one file part; the attachment the server answers with."""
        opening = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{FILENAME}"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        closing = f"\r\n--{BOUNDARY}--\r\n".encode()
        length = len(opening) + payload.size + len(closing)
        head = self._head(
            "POST",
            "/api/v1/attachments",
            f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\n",
        )
        _, writer = await self._open()
        try:
            writer.write(head + opening)
            for chunk in payload.chunks():
                writer.write(chunk)
                await writer.drain()
            writer.write(closing)
            await writer.drain()
        except ConnectionError:
            pass  # the server may have answered early (an error) and closed; read what it said
        status, content = await self._read_all()
        if status != 201:
            raise TransferError(f"upload: {status} {content[:300]!r}")
        attachment: dict[str, Any] = json.loads(content)["data"][0]
        return attachment

    async def download(self, path: str, *, digest: Any = None) -> int:
        """GET `path` and discard the body (hashing it into `digest` if given); bytes received."""
        _, writer = await self._open()
        writer.write(self._head("GET", path))
        status, close, body = await self._response()
        received = 0
        async for chunk in body:
            received += len(chunk)
            if digest is not None:
                digest.update(chunk)
        if close:
            self.close()
        if status != 200:
            raise TransferError(f"download {path}: {status}")
        return received

    async def _read_all(self) -> tuple[int, bytes]:
        status, close, body = await self._response()
        content = b"".join([chunk async for chunk in body])
        if close:
            self.close()
        return status, content

    async def _response(self) -> tuple[int, bool, AsyncIterator[bytes]]:
        """Status, whether the server closes the connection, and the body as it arrives."""
        reader, _ = await self._open()
        try:
            status_line = await reader.readuntil(b"\r\n")
            headers = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as error:
            self.close()
            raise TransferError(f"connection lost: {error}") from error
        length, chunked, close = 0, False, False
        for line in headers.lower().split(b"\r\n"):
            if line.startswith(b"content-length:"):
                length = int(line[15:])
            elif line.startswith(b"transfer-encoding:") and b"chunked" in line:
                chunked = True
            elif line.startswith(b"connection:") and b"close" in line:
                close = True
        return int(status_line.split(b" ", 2)[1]), close, _body(reader, length, chunked)


async def _body(reader: asyncio.StreamReader, length: int, chunked: bool) -> AsyncIterator[bytes]:
    if chunked:
        while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
            while size:
                chunk = await reader.read(min(size, CHUNK))
                if not chunk:
                    raise TransferError("connection lost in the body")
                size -= len(chunk)
                yield chunk
            await reader.readexactly(2)
        await reader.readexactly(2)
        return
    while length:
        chunk = await reader.read(min(length, CHUNK))
        if not chunk:
            raise TransferError("connection lost in the body")
        length -= len(chunk)
        yield chunk
