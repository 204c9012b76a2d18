"""File names from the outside world: made harmless for display and for download headers.

A name is only ever shown and sent back in `Content-Disposition`; storage paths are content
hashes, so no name can reach the file system.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

MAX_NAME_BYTES = 255
FALLBACK_NAME = "file"
_FORBIDDEN = re.compile(r'[<>:"|?*\x00-\x1f\x7f]')
_WINDOWS_RESERVED = re.compile(r"^(con|prn|aux|nul|com[1-9]|lpt[1-9])(\..*)?$", re.IGNORECASE)


def sanitize_filename(raw: str) -> str:
    """The last path segment, without control, bidi or invisible characters, at most 255 bytes.

    `../../etc/passwd` → `passwd`; `invoice\u202egpj.exe` → `invoicegpj.exe`; `CON.txt` → `_CON.txt`.
    """
    name = unicodedata.normalize("NFC", raw)
    name = re.split(r"[/\\]", name)[-1]
    # Cc: control characters; Cf: format characters (RTL/LTR overrides, zero-width joiners, BOM).
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co", "Cn"))
    name = _FORBIDDEN.sub("_", name)
    name = " ".join(name.split())  # any run of whitespace, including U+2028, becomes one space
    name = name.strip(" .")
    if _WINDOWS_RESERVED.match(name):
        name = "_" + name
    name = _truncate(name)
    return name or FALLBACK_NAME


def extension(name: str) -> str:
    """`report.PDF` → `pdf`; `archive.tar.gz` → `gz`; `README` → ``."""
    stem, dot, suffix = name.rpartition(".")
    return suffix.lower() if dot and stem and suffix else ""


def _truncate(name: str) -> str:
    if len(name.encode()) <= MAX_NAME_BYTES:
        return name
    suffix = extension(name)
    tail = f".{suffix}" if suffix and len(suffix) <= 16 else ""
    stem = name[: len(name) - len(tail)] if tail else name
    budget = MAX_NAME_BYTES - len(tail.encode())
    stem = stem.encode()[:budget].decode(errors="ignore").rstrip(" .")
    return stem + tail


def content_disposition(name: str, *, inline: bool = False) -> str:
    """RFC 6266: a quoted ASCII fallback plus the exact name in RFC 8187 `filename*`."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r'[^\x20-\x7e]|["\\%]', "_", ascii_name).strip() or FALLBACK_NAME
    disposition = "inline" if inline else "attachment"
    return f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
