"""Which files we accept, decided by their content (docs/product.md §5), never by the name or the client.

The content's signature gives a family of kinds (a ZIP container may be a .zip, a .docx or an
.odt); the name's extension must then be one the family allows, so a download never reaches
the user's machine under a name that would make it open as something else. Markup (HTML, SVG,
XML) is never accepted: it is the one text a browser would run. A mail (.eml, a forwarded mail
kept whole) is accepted by its header section; like every file it is only ever downloaded
(`http.downloads`), never shown, so its HTML never runs in our pages.

A signature table of our own rather than a generic sniffing library: for containers those
answer with ranked guesses (a plain ZIP came back as .docx first), and this is a decision.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class Kind:
    name: str
    mime: str
    extensions: tuple[str, ...]
    label: str
    preview: bool = False  # shown inline: raster images only, never SVG or HTML
    verify: Callable[[bytes], bool] = field(default=lambda head: True, compare=False, repr=False)


def _ooxml(part: bytes) -> Callable[[bytes], bool]:
    return lambda head: b"[Content_Types].xml" in head and part in head


def _odf(mime: bytes) -> Callable[[bytes], bool]:
    # ODF requires an uncompressed first entry `mimetype` holding the document's type.
    return lambda head: head[30:38] == b"mimetype" and head[38 : 38 + len(mime)] == mime


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("png", "image/png", ("png",), "PNG image", preview=True),
        Kind("jpeg", "image/jpeg", ("jpg", "jpeg", "jpe", "jfif"), "JPEG image", preview=True),
        Kind("gif", "image/gif", ("gif",), "GIF image", preview=True),
        Kind("webp", "image/webp", ("webp",), "WebP image", preview=True),
        Kind("bmp", "image/bmp", ("bmp",), "BMP image"),
        Kind("tiff", "image/tiff", ("tif", "tiff"), "TIFF image"),
        Kind("pdf", "application/pdf", ("pdf",), "PDF document"),
        Kind("rtf", "application/rtf", ("rtf",), "RTF document"),
        Kind(
            "text",
            "text/plain; charset=utf-8",
            ("txt", "text", "log", "md", "csv", "tsv", "json", "yaml", "yml", "ini", "conf", "cfg"),
            "text file",
        ),
        Kind("zip", "application/zip", ("zip",), "ZIP archive"),
        Kind(
            "docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ("docx",),
            "Word document",
            verify=_ooxml(b"word/"),
        ),
        Kind(
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ("xlsx",),
            "Excel workbook",
            verify=_ooxml(b"xl/"),
        ),
        Kind(
            "pptx",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            ("pptx",),
            "PowerPoint presentation",
            verify=_ooxml(b"ppt/"),
        ),
        Kind(
            "odt",
            "application/vnd.oasis.opendocument.text",
            ("odt",),
            "OpenDocument text",
            verify=_odf(b"application/vnd.oasis.opendocument.text"),
        ),
        Kind(
            "ods",
            "application/vnd.oasis.opendocument.spreadsheet",
            ("ods",),
            "OpenDocument spreadsheet",
            verify=_odf(b"application/vnd.oasis.opendocument.spreadsheet"),
        ),
        Kind(
            "odp",
            "application/vnd.oasis.opendocument.presentation",
            ("odp",),
            "OpenDocument presentation",
            verify=_odf(b"application/vnd.oasis.opendocument.presentation"),
        ),
        Kind("doc", "application/msword", ("doc",), "Word 97 document"),
        Kind("xls", "application/vnd.ms-excel", ("xls",), "Excel 97 workbook"),
        Kind("ppt", "application/vnd.ms-powerpoint", ("ppt",), "PowerPoint 97 presentation"),
        Kind("msg", "application/vnd.ms-outlook", ("msg",), "Outlook message"),
        Kind("eml", "message/rfc822", ("eml",), "e-mail message"),
        Kind("gzip", "application/gzip", ("gz", "tgz"), "gzip archive"),
        Kind("7z", "application/x-7z-compressed", ("7z",), "7-Zip archive"),
        Kind("tar", "application/x-tar", ("tar",), "tar archive"),
        Kind("mp4", "video/mp4", ("mp4", "m4v"), "MP4 video"),
        Kind("mov", "video/quicktime", ("mov",), "QuickTime video"),
        Kind("webm", "video/webm", ("webm", "mkv"), "WebM video"),
    )
}

_ZIP_FAMILY = ("zip", "docx", "xlsx", "pptx", "odt", "ods", "odp")
_OLE_FAMILY = ("doc", "xls", "ppt", "msg")


def _bmp(head: bytes) -> bool:
    # "BM" alone starts plenty of text; a real header also names a known DIB header size.
    return (
        head[:2] == b"BM"
        and len(head) >= 18
        and int.from_bytes(head[14:18], "little")
        in (
            12,
            40,
            52,
            56,
            64,
            108,
            124,
        )
    )


def _family(head: bytes) -> tuple[str, ...]:
    """The kinds this content could be, most likely first; empty when we accept none of them."""
    signatures: list[tuple[bool, tuple[str, ...]]] = [
        (head.startswith(b"\x89PNG\r\n\x1a\n"), ("png",)),
        (head.startswith(b"\xff\xd8\xff"), ("jpeg",)),
        (head.startswith((b"GIF87a", b"GIF89a")), ("gif",)),
        (head[:4] == b"RIFF" and head[8:12] == b"WEBP", ("webp",)),
        (_bmp(head), ("bmp",)),
        (head.startswith((b"II*\x00", b"MM\x00*")), ("tiff",)),
        (head.startswith(b"%PDF-"), ("pdf",)),
        (head.startswith(b"{\\rtf"), ("rtf",)),
        (head.startswith((b"PK\x03\x04", b"PK\x05\x06")), _ZIP_FAMILY),
        (head.startswith(bytes.fromhex("d0cf11e0a1b11ae1")), _OLE_FAMILY),
        (head.startswith(b"\x1f\x8b"), ("gzip",)),
        (head.startswith(b"7z\xbc\xaf\x27\x1c"), ("7z",)),
        (head[257:262] == b"ustar", ("tar",)),
        (head[4:8] == b"ftyp" and head[8:12] == b"qt  ", ("mov",)),
        (head[4:8] == b"ftyp", ("mp4",)),
        (head.startswith(b"\x1a\x45\xdf\xa3"), ("webm",)),
    ]
    for matched, family in signatures:
        if matched:
            return family
    text = is_plain_text(head)
    if _opens_like_mail(head):  # a mail's body may be 8-bit in any charset
        return ("text", "eml") if text else ("eml",)
    return ("text",) if text else ()


# A header field (RFC 5322 §2.2: printable ASCII but ":" in the name), or a folded line of one.
_HEADER_LINE = re.compile(rb"[!-9;-~]+[ \t]*:.*|[ \t].*", re.DOTALL)
_MAIL_FIELDS = frozenset(
    {b"from", b"to", b"date", b"subject", b"message-id", b"received", b"return-path", b"mime-version"}
)


def _opens_like_mail(head: bytes) -> bool:
    """A header section first (an mbox `From ` line may come before it), every line a field or
    a folded one up to the blank line or the end of the head, no NUL byte in them, and at least one
    field that every mail has."""
    section = head.replace(b"\r\n", b"\n")
    blank = section.find(b"\n\n")
    lines = section[:blank].split(b"\n") if blank >= 0 else section.split(b"\n")[:-1]  # last: cut?
    if lines and lines[0].startswith(b"From "):
        lines = lines[1:]
    if not lines or not lines[0] or lines[0][:1] in b" \t<":  # `<`: markup is never a mail
        return False
    if not all(_HEADER_LINE.fullmatch(line) and b"\x00" not in line for line in lines if line.strip()):
        return False
    names = {line.partition(b":")[0].strip().lower() for line in lines if line[:1] not in b" \t"}
    return bool(names & _MAIL_FIELDS)


def is_plain_text(head: bytes) -> bool:
    """UTF-8 without NUL bytes that does not open like markup (`<html`, `<svg`, `<?xml`, …)."""
    if not head or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        # The head may end inside a multi-byte character; only that is forgiven.
        if error.start < len(head) - 3:
            return False
        text = head[: error.start].decode("utf-8")
    return not _opens_like_markup(text)


def _opens_like_markup(text: str) -> bool:
    """Every kind of leading space (`str.lstrip`: \\v, NBSP, …) and a BOM skipped, then `<`."""
    return text.lstrip().lstrip("\ufeff").lstrip().startswith("<")


def describe(head: bytes) -> str:
    """What the content looks like, for error messages."""
    family = _family(head)
    if family:
        return KINDS[family[0]].label
    if _opens_like_markup(head.decode("utf-8", "replace")):
        return "markup (HTML, SVG or XML)"
    stripped = head.lstrip().lower()
    if stripped.startswith(b"mz"):
        return "a program"
    return "a type we do not accept"


@dataclass(frozen=True)
class Verdict:
    kind: Kind | None
    reason: str = ""


def identify(head: bytes, extension: str, allowed: frozenset[str]) -> Verdict:
    """The accepted kind of this content under this extension, or why it is refused."""
    family = [KINDS[name] for name in _family(head)]
    if not family:
        return Verdict(None, f"Files of this type are not accepted: it looks like {describe(head)}.")
    if extension:
        matching = [kind for kind in family if extension in kind.extensions and kind.verify(head)]
        if not matching:
            return Verdict(
                None,
                f"The file is named .{extension} but its content is {_article(family[0].label)}.",
            )
        kind = matching[0]
    else:
        kind = family[0]
    if allowed and kind.name not in allowed:
        return Verdict(None, f"Files of this type ({kind.label}) are not accepted here.")
    return Verdict(kind)


def _article(label: str) -> str:
    return ("an " if label[0].lower() in "aeiou" else "a ") + label


def is_previewable(kind: str) -> bool:
    found = KINDS.get(kind)
    return bool(found and found.preview)


def parse_allowed(setting: str) -> frozenset[str]:
    """`TICKETRY_ATTACHMENT_TYPES`: comma-separated kind names; unknown names are an error."""
    names = frozenset(part.strip().lower() for part in setting.split(",") if part.strip())
    unknown = names - KINDS.keys()
    if unknown:
        raise ValueError(f"Unknown attachment types {sorted(unknown)}; known: {sorted(KINDS)}")
    return names
