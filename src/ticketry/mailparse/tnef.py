"""Outlook's `winmail.dat` (TNEF, `application/ms-tnef`) unpacked into the files it carries, and
its text for a mail that has no other. Pure; used by `parse`.

The format is read by `tnefparse`, which is not written for hostile input: every entry of the
stream copies the rest of it (quadratic: 100,000 tiny entries in 1.2 MB copy 60 GB), and a
property count of 2^32 in a multi-valued property makes it loop that many times, allocating as
it goes. So a stream is first walked here, decoding nothing, exactly as far as tnefparse would
walk it, and refused before tnefparse sees it when it would copy more than MAX_COPIED bytes,
hold more than MAX_ENTRIES entries, count more values than its bytes can hold, or nest Outlook
items deeper than MAX_EMBEDDED. A refused or unreadable stream raises `Unreadable`; the caller
keeps the file as it came.

Compressed RTF (most Outlook bodies) is not read: it needs another library, and an RTF body
nearly always repeats the mail's own text/plain part.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

from tnefparse.tnef import TNEF

from ticketry.mailparse.decode import decode_loose, decode_text, single_line

MAX_TNEF_BYTES = 25 * 1024 * 1024
MAX_ENTRIES = 5000  # TNEF entries over the stream and the Outlook items inside it
MAX_COPIED = 2 * 1024 * 1024 * 1024  # bytes tnefparse copies while reading (see the docstring)
MAX_EMBEDDED = 2  # Outlook items attached inside Outlook items
MAX_FILES = 500

_SIGNATURE = 0x223E9F78
_MESSAGE_PROPERTIES = 0x9003
_RECIPIENTS = 0x9004
_ATTACHMENT_PROPERTIES = 0x9005
_ATTACH_DATA_OBJECT = 0x3701
_IMESSAGE = b"\x07\x03\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"
_MULTI_VALUED = 0x1000
_NAMED = 0x8000
_FIXED_SIZES = {0x0002: 2, 0x000B: 2, 0x0003: 4, 0x0004: 4, 0x000A: 4, 0x0048: 16}
_FIXED_SIZES.update(dict.fromkeys((0x0005, 0x0006, 0x0007, 0x0014, 0x0040), 8))
_VARIABLE = frozenset({0x0000, 0x000D, 0x001E, 0x001F, 0x0102})
_U16 = struct.Struct("<H").unpack_from
_U32 = struct.Struct("<I").unpack_from


class Unreadable(Exception):
    """Why a winmail.dat was not unpacked, for people: "it is larger than 25 MB"."""


@dataclass(frozen=True)
class Unpacked:
    files: tuple[tuple[str, bytes], ...]  # (name as Outlook gave it, "" if none; content)
    text: str | None  # the plain text body, if it carries one
    html: str | None  # the HTML body (unsanitised), if it carries one
    rtf_only: bool  # its only body is compressed RTF, which is not read


def unpack(data: bytes) -> Unpacked:
    """The files and the text of a TNEF stream; `Unreadable` when it cannot or may not be read."""
    if len(data) > MAX_TNEF_BYTES:
        raise Unreadable(f"it is larger than {MAX_TNEF_BYTES // (1024 * 1024)} MB")
    _Walk().stream(data, 0)
    try:
        tnef = TNEF(data, do_checksum=False)
        files: list[tuple[str, bytes]] = []
        _collect(tnef, files, 0)
        text = _body(tnef.body, tnef.codepage)
        html = _body(tnef.htmlbody, None)
        rtf_only = bool(tnef._rtfbody) and not (text or html)
    except Exception as error:  # tnefparse raises whatever its input leads it to
        raise Unreadable(f"it could not be read ({type(error).__name__})") from error
    return Unpacked(tuple(files), text, html, rtf_only)


def _collect(tnef: Any, files: list[tuple[str, bytes]], depth: int) -> None:
    """The attached files, those of attached Outlook items included."""
    for attachment in tnef.attachments:
        if len(files) >= MAX_FILES:
            return
        embedded = getattr(attachment, "embed", None)
        if embedded is not None:
            _collect(embedded, files, depth + 1)
            continue
        content = attachment.data
        if isinstance(content, bytes) and content:
            files.append((_name(attachment), content))


def _name(attachment: Any) -> str:
    try:
        name = attachment.long_filename()
    except Exception:  # a short name in an undecodable charset
        name = ""
    if isinstance(name, bytes):
        name = decode_loose(name)
    return single_line(str(name).replace("\x00", ""), 255)


def _body(value: object, codepage: str | None) -> str | None:
    if isinstance(value, bytes):
        value = decode_text(value, codepage)[0]
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "")
    return value if value.strip() else None


class _Walk:
    """The stream walked the way tnefparse walks it, counting what that costs (module docstring)."""

    def __init__(self) -> None:
        self.copied = 0
        self.entries = 0

    def stream(self, data: bytes, depth: int) -> None:
        if len(data) < 6 or _U32(data, 0)[0] != _SIGNATURE:
            raise Unreadable("it is not a TNEF stream")
        offset = 6
        while offset + 12 < len(data):  # tnefparse's loop
            rest = len(data) - offset
            self.entries += 1
            self.copied += rest
            if self.entries > MAX_ENTRIES or self.copied > MAX_COPIED:
                raise Unreadable("it is too complex to unpack")
            name = _U16(data, offset + 1)[0]
            length = min(rest, _U32(data, offset + 5)[0] + 11)
            body = data[offset + 9 : offset + length - 2]
            if name in (_MESSAGE_PROPERTIES, _ATTACHMENT_PROPERTIES):
                self.properties(body, 0, depth)
            elif name == _RECIPIENTS:
                self.recipients(body, depth)
            offset += length

    def recipients(self, data: bytes, depth: int) -> None:
        rows = _U32(data, 0)[0] if len(data) >= 4 else 0
        if rows > len(data) // 4:
            raise Unreadable("it counts more recipients than it holds")
        offset = 4
        for _ in range(rows):
            offset = self.properties(data, offset, depth)
            if offset >= len(data):
                return

    def properties(self, data: bytes, offset: int, depth: int) -> int:
        """A MAPI property list at `offset`; where it ends."""
        size = len(data)
        try:
            count = _U32(data, offset)[0]
            offset += 4
            if count > (size - offset) // 4 + 1:
                raise Unreadable("it counts more properties than it holds")
            for _ in range(count):
                if offset >= size:
                    break
                kind, name = _U16(data, offset)[0], _U16(data, offset + 2)[0]
                offset += 4
                if name >= _NAMED:
                    offset += 16
                    named_by_string = _U32(data, offset)[0]
                    offset += 4
                    length = _U32(data, offset)[0] if named_by_string else 0
                    offset += 4 + (length + (-length % 4) if named_by_string else 0)
                values = 1
                if kind & _MULTI_VALUED:
                    kind ^= _MULTI_VALUED
                    values = _U32(data, offset)[0]
                    offset += 4
                    if values > (size - offset) // 2 + 1:
                        raise Unreadable("it counts more values than it holds")
                    multi = True
                else:
                    multi = False
                for _ in range(values or 1):
                    if kind in _FIXED_SIZES:
                        offset += _FIXED_SIZES[kind]
                    elif kind in _VARIABLE:
                        offset = self.variable(data, offset, name, multi=multi, depth=depth)
                    else:
                        return offset  # tnefparse stops at an unknown type
                if (values or 1) % 2 and kind in (0x0002, 0x000B):
                    offset += 2
        except struct.error:
            return size  # tnefparse stops where the data ends
        return offset

    def variable(self, data: bytes, offset: int, name: int, *, multi: bool, depth: int) -> int:
        items = 1
        if not multi:
            items = _U32(data, offset)[0]
            offset += 4
            if items > (len(data) - offset) // 4 + 1:
                raise Unreadable("it counts more values than it holds")
        values: list[bytes] = []
        for _ in range(items):
            length = _U32(data, offset)[0]
            offset += 4
            length += -length % 4
            if name == _ATTACH_DATA_OBJECT:
                values.append(data[offset : offset + length].rstrip(b"\x00"))
            offset += length
        value = b"".join(values)  # as tnefparse joins them
        if value.startswith(_IMESSAGE):  # an attached Outlook item, itself a TNEF stream
            if depth >= MAX_EMBEDDED:
                raise Unreadable("it nests Outlook items too deep")
            self.stream(value[len(_IMESSAGE) :], depth + 1)
        return offset
