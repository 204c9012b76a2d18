"""A small writer of TNEF streams (Outlook's winmail.dat, MS-OXTNEF) for the tests: entries of
attributes, MAPI property lists, attachments with their long names. Written from the format's
description; it writes only what the tests need, and the hostile shapes they build on purpose."""

from __future__ import annotations

import struct

SIGNATURE = 0x223E9F78
MESSAGE, ATTACHMENT = 1, 2
PT_LONG, PT_STRING8, PT_UNICODE, PT_BINARY = 0x0003, 0x001E, 0x001F, 0x0102
PR_BODY, PR_RTF_COMPRESSED, PR_BODY_HTML, PR_INTERNET_CPID = 0x1000, 0x1009, 0x1013, 0x3FDE
PR_ATTACH_LONG_FILENAME = 0x3707


def entry(level: int, attribute: int, kind: int, data: bytes) -> bytes:
    """One TNEF attribute: level, id, type, length, data and its checksum."""
    return (
        struct.pack("<BHHI", level, attribute, kind, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)
    )


def _padded(value: bytes) -> bytes:
    return struct.pack("<I", len(value)) + value + b"\x00" * (-len(value) % 4)


def properties(props: list[tuple[int, int, bytes | int]]) -> bytes:
    """A MAPI property list of (type, id, value): PT_LONG values are ints, the rest bytes."""
    out = struct.pack("<I", len(props))
    for kind, name, value in props:
        out += struct.pack("<HH", kind, name)
        if isinstance(value, int):
            out += struct.pack("<I", value)
        else:
            out += struct.pack("<I", 1) + _padded(value)
    return out


def tnef(
    *,
    files: list[tuple[str, bytes]] = (),  # type: ignore[assignment]
    text: str | None = None,
    html: str | None = None,
    rtf: bytes | None = None,
    extra: bytes = b"",
) -> bytes:
    out = struct.pack("<IH", SIGNATURE, 0x0001)
    out += entry(MESSAGE, 0x9006, 0x0008, struct.pack("<I", 0x00010000))  # TNEF version
    out += entry(MESSAGE, 0x9007, 0x0006, struct.pack("<II", 1252, 0))  # OEM code page
    out += entry(MESSAGE, 0x8008, 0x0007, b"IPM.Note\x00")  # message class
    props: list[tuple[int, int, bytes | int]] = []
    if text is not None:
        props.append((PT_STRING8, PR_BODY, text.encode("cp1252") + b"\x00"))
    if html is not None:
        props += [(PT_LONG, PR_INTERNET_CPID, 65001), (PT_BINARY, PR_BODY_HTML, html.encode("utf-8"))]
    if rtf is not None:
        props.append((PT_BINARY, PR_RTF_COMPRESSED, rtf))
    if props:
        out += entry(MESSAGE, 0x9003, 0x0006, properties(props))  # MAPI properties
    for name, data in files:
        short = (name.rpartition(".")[0][:6].upper() + "~1." + name.rpartition(".")[2][:3].upper()).encode()
        out += entry(ATTACHMENT, 0x9002, 0x0006, bytes(14))  # rendering: starts an attachment
        out += entry(ATTACHMENT, 0x8010, 0x0001, short + b"\x00")  # 8.3 title
        out += entry(ATTACHMENT, 0x800F, 0x0006, data)  # the data
        long_name = name.encode("utf-16-le") + b"\x00\x00"
        out += entry(
            ATTACHMENT, 0x9005, 0x0006, properties([(PT_UNICODE, PR_ATTACH_LONG_FILENAME, long_name)])
        )
    return out + extra
