"""Handing a stored file back: headers that keep the browser from running it, and ranges.

Every download is `Content-Disposition: attachment` (inline only for raster images that were
asked for as a preview), carries the type we sniffed (never the uploader's), `nosniff`, and a
CSP that sandboxes whatever the browser might still try to render.

Downloads are `Cache-Control: no-store`, like everything a credential opens (issue 12, item 6):
a file from a ticket must not stay in the browser's disk cache of a shared computer after its
reader signs out, nor in a proxy. This was `private, no-cache` (stored, revalidated by ETag);
under `no-store` a browser keeps no copy, so it never revalidates and every view of a preview
fetches the file again. The ETag stays for what still uses it: `If-Range` when a download
resumes, and `If-None-Match` from clients that keep their own copy (a sync script).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator

import structlog
from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from ticketry.attachments.errors import ContentUnavailable
from ticketry.attachments.models import Attachment
from ticketry.attachments.names import content_disposition
from ticketry.attachments.storage import ContentMissing, Storage, StorageUnavailable
from ticketry.core.clock import now

log = structlog.get_logger(__name__)

SANDBOX_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'"
_RANGE = re.compile(r"^bytes=(\d{0,18})-(\d{0,18})$")


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2, weak comparison: `*`, a list, `W/` prefixes."""
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


def _body(
    storage: Storage, attachment: Attachment, start: int = 0, end: int | None = None
) -> Iterator[bytes]:
    """The content's chunks, with its first one already read: a content missing from storage
    becomes an error answer, not a 200 whose body breaks off."""
    chunks = storage.open(attachment.blob_key, start, end)
    try:
        first = next(chunks, b"")
    except (ContentMissing, StorageUnavailable) as error:
        log.error("attachments.content_missing", attachment_id=attachment.id, key=attachment.blob_key)
        raise ContentUnavailable(
            "This file cannot be read from storage right now. The administrators have been told."
        ) from error
    return itertools.chain((first,), chunks)


def _range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """(start, end) inclusive for one satisfiable range; None for the whole file (no header, a
    multi-range or an unparsable one, which RFC 9110 lets us ignore); "unsatisfiable"."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if not match:
        return None
    first, last = match.groups()
    if not first and not last:
        return None
    if not first:  # the last N bytes
        length = int(last)
        if length == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if last and int(last) < start:
        return None  # not a valid range: ignored, the whole file is sent
    if start >= size:
        return "unsatisfiable"
    return start, end


def file_response(request: Request, storage: Storage, attachment: Attachment, *, inline: bool) -> Response:
    inline = inline and attachment.previewable
    etag = f'"{attachment.blob_key}"'
    headers = {
        "Content-Disposition": content_disposition(attachment.filename, inline=inline),
        "Content-Security-Policy": SANDBOX_CSP,
        "X-Content-Type-Options": "nosniff",
        "Cross-Origin-Resource-Policy": "same-origin",
        # Never stored (module docstring): lost access is not served from a cache either.
        "Cache-Control": "no-store",
        "Accept-Ranges": "bytes",
        "ETag": etag,
    }
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    size = attachment.size
    if_range = request.headers.get("if-range")
    wanted = _range(request.headers.get("range"), size) if if_range in (None, etag) else None
    if wanted == "unsatisfiable":
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{size}"})
    if isinstance(wanted, tuple):
        start, end = wanted
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        headers["Content-Length"] = str(end - start + 1)
        body = _body(storage, attachment, start, end)
        return StreamingResponse(body, status_code=206, media_type=attachment.content_type, headers=headers)
    headers["Content-Length"] = str(size)
    if request.method == "HEAD":
        return Response(status_code=200, media_type=attachment.content_type, headers=headers)
    body = _body(storage, attachment) if size else iter(())
    return StreamingResponse(body, media_type=attachment.content_type, headers=headers)


def export_headers(stem: str, suffix: str) -> dict[str, str]:
    """A generated file (an export) as a download named `stem-YYYYMMDD-HHMM.suffix`, not stored."""
    name = f"{stem}-{now().strftime('%Y%m%d-%H%M')}.{suffix}"
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
