"""IMAP's small print, pure: UID sets, quoted folder names (modified UTF-7) and the FETCH
responses imaplib hands back, read without trusting the server's text (no `eval`, no regex that
backtracks). `imap.py` speaks the protocol with these."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

UIDS_PER_COMMAND = 200


class UnreadableResponse(ValueError):
    """A FETCH response that does not parse."""


def uid_sets(uids: Sequence[int], per_command: int | None = None) -> Iterator[str]:
    """UID sets of at most `per_command` (UIDS_PER_COMMAND) UIDs each, runs compressed:
    [1, 2, 3, 7] -> "1:3,7"."""
    per_command = per_command or UIDS_PER_COMMAND
    ordered = sorted(set(uids))
    for start in range(0, len(ordered), per_command):
        parts: list[str] = []
        run_start = previous = ordered[start]
        for uid in [*ordered[start + 1 : start + per_command], None]:
            if uid is not None and uid == previous + 1:
                previous = uid
                continue
            parts.append(str(run_start) if run_start == previous else f"{run_start}:{previous}")
            if uid is not None:
                run_start = previous = uid
        yield ",".join(parts)


def quote_folder(name: str) -> str:
    """A folder name as an IMAP quoted string, in modified UTF-7 (RFC 3501 §5.1.3). Anything
    outside printable ASCII is base64-encoded, so no name can break the command line."""
    encoded: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            shifted = base64.b64encode("".join(pending).encode("utf-16-be")).rstrip(b"=")
            encoded.append("&" + shifted.replace(b"/", b",").decode("ascii") + "-")
            pending.clear()

    for char in name:
        if " " <= char <= "~":
            flush()
            encoded.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return '"' + "".join(encoded).replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class String:
    """A quoted string or literal in a FETCH response (an atom stays `bytes`)."""

    value: bytes


FetchValue = bytes | String | list["FetchValue"]
_LITERAL_AT_END = re.compile(rb"\{\d+\+?\}$")
_TOKEN = re.compile(
    rb'\s*(?:(?P<open>\()|(?P<close>\))|"(?P<quoted>(?:[^"\\]|\\.)*)"'
    rb"|(?P<atom>[^\s()\"\[\]]+(?:\[[^\]]*\](?:<\d+>)?)?))"
)
_OPEN, _CLOSE = object(), object()


def parse_fetch(data: Sequence[Any]) -> list[dict[str, FetchValue]]:
    """The FETCH responses imaplib returns, one dict per message keyed by upper-case item name
    ("UID", "RFC822.SIZE", "BODY[HEADER]", "FLAGS"), in the order the messages came.

    imaplib gives a response with a literal as a tuple (the text up to the literal's {n}, the
    literal) followed by the text after it (b")" or b" UID 5)"), and one without as bytes. Items
    come in any order; a server may split one message's items over several responses (merged
    here by sequence number) and mix in unsolicited ones (flag changes): callers pick what they
    asked for."""
    tokens: list[object] = []
    for part in data:
        if isinstance(part, tuple):
            head, literal = part
            tokens += _tokens(_LITERAL_AT_END.sub(b"", head))
            tokens.append(String(literal))
        elif part is not None:
            tokens += _tokens(part)
    messages: dict[int, dict[str, FetchValue]] = {}
    position = 0
    while position < len(tokens):
        number, opening = tokens[position], tokens[position + 1 : position + 2]
        if not isinstance(number, bytes) or not number.isdigit() or opening != [_OPEN]:
            raise UnreadableResponse("The server sent a FETCH response that could not be read.")
        items, position = _parse_list(tokens, position + 2)
        names = [
            name.decode("ascii", "replace").upper() if isinstance(name, bytes) else "" for name in items[::2]
        ]
        messages.setdefault(int(number), {}).update(zip(names, items[1::2], strict=False))
    return list(messages.values())


def _tokens(text: bytes) -> list[object]:
    tokens: list[object] = []
    text, position = text.rstrip(), 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise UnreadableResponse("The server sent a FETCH response that could not be read.")
        position = match.end()
        if match["open"]:
            tokens.append(_OPEN)
        elif match["close"]:
            tokens.append(_CLOSE)
        elif match["quoted"] is not None:
            tokens.append(String(re.sub(rb"\\(.)", rb"\1", match["quoted"])))
        else:
            tokens.append(match["atom"])
    return tokens


def _parse_list(tokens: list[object], position: int) -> tuple[list[FetchValue], int]:
    """The values up to the matching ")", and the position after it."""
    values: list[FetchValue] = []
    while position < len(tokens):
        token = tokens[position]
        if token is _CLOSE:
            return values, position + 1
        if token is _OPEN:
            inner, position = _parse_list(tokens, position + 1)
            values.append(inner)
            continue
        assert isinstance(token, bytes | String)
        values.append(token)
        position += 1
    raise UnreadableResponse("The server sent a FETCH response that could not be read.")


def string_of(value: FetchValue) -> bytes:
    """A literal or quoted string's bytes; NIL (or any atom) is empty."""
    return value.value if isinstance(value, String) else b""
