"""MIME structure pieces that need no reader state: the spans between a multipart's boundary
lines, Content-IDs, and names for parts that carry none. Linear in their input."""

from __future__ import annotations

import re

from ticketry.mailparse.decode import single_line


def boundary_spans(
    buf: bytes, start: int, end: int, boundary: str, limit: int
) -> tuple[list[tuple[int, int]], int]:
    """The body spans between the delimiter lines of `boundary` (at most `limit` of them) and
    how many there were. An unclosed last part runs to the end, as in the stdlib."""
    if not boundary:
        return [], 0
    marker = re.escape(b"--" + boundary.encode("utf-8", "surrogateescape"))
    delimiter = re.compile(marker + rb"(--)?[ \t]*\r?$", re.MULTILINE)
    spans: list[tuple[int, int]] = []
    total = 0
    opened: int | None = None
    for match in delimiter.finditer(buf, start, end):
        at = match.start()
        if at != start and buf[at - 1] != 0x0A:
            continue  # not at the start of a line
        if opened is not None:
            total += 1
            if len(spans) < limit:
                close = at
                if close > opened and buf[close - 1] == 0x0A:
                    close -= 1
                if close > opened and buf[close - 1] == 0x0D:
                    close -= 1
                spans.append((opened, close))
        if match[1]:
            return spans, total
        opened = match.end() + 1 if buf[match.end() : match.end() + 1] == b"\n" else match.end()
    if opened is not None:
        total += 1
        if len(spans) < limit:
            spans.append((opened, end))
    return spans, total


_BRACKETED = re.compile(r"<([^<>]*)>")


def content_id(value: str | None) -> str | None:
    """A Content-ID header's id, without its angle brackets."""
    if not value:
        return None
    bracketed = _BRACKETED.search(value)
    found = single_line(bracketed[1] if bracketed else value, 250).strip()
    return found or None


_EXTENSIONS = {
    "application/json": ".json",
    "application/msword": ".doc",
    "application/pdf": ".pdf",
    "application/pgp-encrypted": ".pgp",
    "application/pgp-signature": ".asc",
    "application/pkcs7-mime": ".p7m",
    "application/pkcs7-signature": ".p7s",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/xml": ".xml",
    "application/zip": ".zip",
    "image/bmp": ".bmp",
    "image/gif": ".gif",
    "image/heic": ".heic",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/svg+xml": ".svg",
    "image/tiff": ".tif",
    "image/webp": ".webp",
    "message/rfc822": ".eml",
    "text/calendar": ".ics",
    "text/csv": ".csv",
    "text/html": ".html",
    "text/plain": ".txt",
    "text/vcard": ".vcf",
    "text/x-vcard": ".vcf",
}


def default_name(ctype: str, number: int) -> str:
    """A name for a part the mail names none for."""
    stem = "image" if ctype.startswith("image/") else "attachment"
    return f"{stem}-{number}{_EXTENSIONS.get(ctype, '.bin')}"
