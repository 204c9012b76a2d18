"""Sample file contents and helpers for the attachment tests: upload through the API, and look
at what was left behind (attachment rows, blob rows, stored and staged files)."""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import Persona
from ticketry.attachments.models import Attachment, Blob
from ticketry.core.db import Database

STORED_KEY = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}$")


# --- contents ----------------------------------------------------------------------------------------


def png(width: int = 1, height: int = 1, rgb: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    """A real PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"  # noqa: E501
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
OLE = bytes.fromhex("d0cf11e0a1b11ae1") + bytes(504)
EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(48) + b"This program cannot be run"
)
TEXT = b"Printer says PC LOAD LETTER.\n"
HTML = b"<!doctype html><html><script>alert(document.cookie)</script></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><circle r="4"/></svg>'
XML = b'<?xml version="1.0"?><note>hi</note>'
# A GIF header followed by HTML: a browser sniffing it could take it for a page.
POLYGLOT_GIF = GIF[:13] + b"<html><body><script>alert(document.domain)</script></body></html>"


def zip_archive(entries: dict[str, bytes], *, stored_first: str | None = None) -> bytes:
    """A ZIP with these entries; `stored_first` is written first and uncompressed (ODF's mimetype)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if stored_first is not None:
            archive.writestr(stored_first, entries[stored_first], compress_type=zipfile.ZIP_STORED)
        for name, data in entries.items():
            if name != stored_first:
                archive.writestr(name, data)
    return buffer.getvalue()


ZIP = zip_archive({"readme.txt": b"hello"})
DOCX = zip_archive(
    {"[Content_Types].xml": b"<Types/>", "_rels/.rels": b"<Relationships/>", "word/document.xml": b"<w/>"}
)
ODT = zip_archive(
    {"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<office/>"},
    stored_first="mimetype",
)


def text_of(size: int, *, seed: str = "") -> bytes:
    """Plain text of exactly `size` bytes (distinct per seed, so contents do not dedupe)."""
    line = f"{seed} the quick brown fox jumps over the lazy dog\n".encode()
    return (line * (size // len(line) + 1))[:size]


# --- API helpers -------------------------------------------------------------------------------------

FilePart = tuple[str, tuple[str, bytes, str]]


def part(
    name: str, data: bytes, *, field: str = "file", content_type: str = "application/octet-stream"
) -> FilePart:
    return (field, (name, data, content_type))


def upload(client: TestClient, persona: Persona, *files: tuple[str, bytes], status: int = 201) -> Any:
    """POST /attachments with these (name, content) files; the decoded answer."""
    response = client.post(
        "/api/v1/attachments", files=[part(name, data) for name, data in files], headers=persona.headers
    )
    assert response.status_code == status, response.text
    return response.json()


def upload_ids(client: TestClient, persona: Persona, *files: tuple[str, bytes]) -> list[int]:
    return [item["id"] for item in upload(client, persona, *files)["data"]]


def ticket_with_files(
    client: TestClient, persona: Persona, *files: tuple[str, bytes], status: int = 201, **fields: str
) -> Any:
    """POST /tickets as multipart/form-data with the files in parts named `files`."""
    form = {"title": "Scanner jammed", "description": "See the files.", **fields}
    response = client.post(
        "/api/v1/tickets",
        data=form,
        files=[part(name, data, field="files") for name, data in files],
        headers=persona.headers,
    )
    assert response.status_code == status, response.text
    return response.json()


def reply_with_files(
    client: TestClient,
    persona: Persona,
    ticket_id: int,
    *files: tuple[str, bytes],
    status: int = 201,
    **fields: str,
) -> Any:
    response = client.post(
        f"/api/v1/tickets/{ticket_id}/replies",
        data=fields,
        files=[part(name, data, field="files") for name, data in files],
        headers=persona.headers,
    )
    assert response.status_code == status, response.text
    return response.json()


def error_code(response: Any) -> str:
    code: str = response.json()["error"]["code"]
    return code


# --- what is left behind -----------------------------------------------------------------------------


def attachment_count(db: Database) -> int:
    with db.unit_of_work(write=False) as session:
        return int(session.scalar(select(func.count()).select_from(Attachment)) or 0)


def blob_keys(db: Database) -> list[str]:
    with db.unit_of_work(write=False) as session:
        return sorted(session.scalars(select(Blob.key)))


def staged_files(root: Path) -> list[Path]:
    staging = root / ".staging"
    return sorted(staging.iterdir()) if staging.exists() else []


def stored_keys(root: Path) -> list[str]:
    """The files of a local storage outside its staging directory, as `ab/cd/<sha256>` paths."""
    if not root.exists():
        return []
    return sorted(
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and ".staging" not in path.relative_to(root).parts
    )
