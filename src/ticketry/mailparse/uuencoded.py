"""Files uuencoded into a mail's text: Lotus Notes and old mailers write `begin 644 name` … `end`
blocks into a text/plain body instead of MIME parts. Each well-formed block is taken out of the
text as a file named as its `begin` line says; a malformed one stays in the text, and the reader
is told. Pure; used by `parse`, on the bytes of a text part before its charset is decoded (the
blocks are ASCII) and before the text is cut at its size limit (a file may be larger).

Linear in the text: a block runs from its `begin` line to the next `end` line, and the search
goes on after that `end` whether the block was good or not; once no `end` follows, no later
`begin` can have one either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ticketry.mailparse.decode import decode_loose, single_line, uudecode_lines

_BEGIN = re.compile(rb"^begin[ \t]+[0-7]{3,4}[ \t]+([^\r\n]*)\r?$", re.MULTILINE)  # no lazy: linear
_END = re.compile(rb"^end[ \t]*\r?$", re.MULTILINE)
_PATH_SEPARATORS = re.compile(r"[/\\]")


@dataclass(frozen=True)
class UuFile:
    filename: str  # the last path segment of the `begin` line's name, one line; "" if none
    content: bytes


@dataclass(frozen=True)
class Extracted:
    text: bytes  # the text without its well-formed blocks
    files: tuple[UuFile, ...]
    problems: tuple[str, ...]


def extract(data: bytes, *, max_files: int) -> Extracted:
    """The uuencoded blocks of a text part's bytes, at most `max_files` of them taken out."""
    if b"begin" not in data:
        return Extracted(data, (), ())
    kept: list[bytes] = []
    files: list[UuFile] = []
    problems: list[str] = []
    pos = 0  # where the text not yet kept starts
    resume = 0  # where the next block may start
    for begin in _BEGIN.finditer(data):
        if begin.start() < resume:
            continue  # inside a block already read
        name = _name(begin[1])
        end = _END.search(data, begin.end())
        if end is None:
            problems.append(f"A uuencoded file ({name or 'unnamed'}) has no end line; it was left as text")
            break
        if len(files) >= max_files:
            problems.append("More uuencoded files than the part limit; the rest were left as text")
            break
        resume = end.end()
        lines = [line.removesuffix(b"\r") for line in data[begin.end() : end.start()].split(b"\n")]
        content, bad = uudecode_lines(lines)
        if bad:
            problems.append(f"A uuencoded file ({name or 'unnamed'}) is malformed; it was left as text")
            continue
        kept.append(data[pos : begin.start()])
        files.append(UuFile(name, content))
        pos = resume + 1 if data[resume : resume + 1] == b"\n" else resume
    if not files:
        return Extracted(data, (), tuple(problems))
    kept.append(data[pos:])
    return Extracted(b"".join(kept), tuple(files), tuple(problems))


def _name(raw: bytes) -> str:
    """The name of a `begin` line as a file name: its last path segment, on one line."""
    name = _PATH_SEPARATORS.split(decode_loose(raw).strip().strip('"'))[-1]
    return single_line(name, 255)
