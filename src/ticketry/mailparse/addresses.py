"""Address lists (From, Sender, Reply-To, To, Cc) read as mail clients show them: comments
anywhere, quoted and encoded display names, spaces around `@`; an address a person could take for
someone else's (control, zero-width or bidi characters, a NUL, an encoded word inside the
address, letters that turn into ASCII when lower-cased) is refused with the reason. Linear in its
input and never raises, like the rest of `decode` (whose docstring says why the stdlib's address
parser is not used)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from ticketry.mailparse.decode import ENCODED_WORD, QUOTED_PAIR, decode_header_value, single_line, unquote

MAX_ADDRESSES = 1000
MAX_REFUSED = 5  # addresses of one header said to be refused


_ADDRESS_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|<[^<>]*>?|[,;:]|[^"(<,;:]+', re.DOTALL)
_COMMENT_PIECE = re.compile(r"[^()\\]+|\\.?|[()]", re.DOTALL)
# One `@` between a local part and a domain, with nothing that cannot stand in a bare addr-spec:
# no white space, brackets, quotes, commas or the like.
ADDR_SPEC = re.compile(r"[^\s@<>()\[\]\\,;:\"]+@[^\s@<>()\[\]\\,;:\"']+")
_SPACED_AT = re.compile(r"\s*@\s*")
_UNSEEN = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})  # control, format (zero-width, bidi), unassigned


def parse_addresses(value: str) -> list[tuple[str, str]]:
    """(display name, lower-case addr-spec) for each usable address in an address-list header."""
    return read_addresses(value)[0]


def read_addresses(value: str) -> tuple[list[tuple[str, str]], list[str]]:
    """The usable addresses of an address-list header, as `parse_addresses`, and a sentence for
    each address that was refused though it has the form of one.

    Group syntax (`undisclosed-recipients:;`), comments anywhere and nested (`a(at work)@b`,
    `<a@b> (Name)`), quoted names with commas, white space around the `@`, route prefixes and
    encoded words in names are understood; entries without an addr-spec are dropped. Refused:
    an address with a character no mail client shows (a control or zero-width character, a NUL
    kept as U+FFFD), with an encoded word (RFC 2047 allows none in an address; a client that
    decodes it shows another address), or with a letter that lower-cases into ASCII (the Kelvin
    sign K becomes k): each would give an identity other than the one the reader sees.
    """
    reader = _AddressReader()
    for token in _address_tokens(value):
        reader.feed(token)
    reader.finish()
    return reader.found, reader.refused


class _AddressReader:
    """The entries of an address list, token by token (`_address_tokens`)."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []
        self.refused: list[str] = []
        self.names: list[str] = []  # quoted strings
        self.comments: list[str] = []
        self.plain: list[str] = []
        self.angle: str | None = None
        self.glued = 0  # comments right after text, as in `john(at work)@example.com`

    def feed(self, token: str) -> None:
        first = token[0]
        if first == "(":
            self.comments.append(QUOTED_PAIR.sub(r"\1", token[1:].removesuffix(")")).strip())
            after_text = bool(self.plain) and not self.plain[-1][-1:].isspace()
            self.glued = self.glued + 1 if self.glued or after_text else 0
            return
        if self.glued and first not in '"<,;:' and not first.isspace():
            del self.comments[-self.glued :]  # comments inside an address name no one
        self.glued = 0
        if first == '"':
            self.names.append(unquote(token))
        elif first == "<":
            self.angle = "".join(_without_comments(token[1:].removesuffix(">")).split())
        elif token in (",", ";"):
            self.finish()
        elif token == ":" and self.angle is None and "@" not in "".join(self.plain):  # noqa: S105
            self.names.clear()  # a group's display name
            self.plain.clear()
            self.comments.clear()
        else:
            self.plain.append(token)

    def finish(self) -> None:
        """End the entry read so far."""
        candidate, name = self.entry()
        address = candidate.strip()
        if ADDR_SPEC.fullmatch(address) and len(self.found) < MAX_ADDRESSES:
            why = _refusal(address)
            if why:
                if len(self.refused) < MAX_REFUSED:
                    self.refused.append(f"The address {single_line(_shown(address), 100)} {why}")
            else:
                self.found.append((single_line(decode_header_value(name), 200), address.lower()))
        self.names.clear()
        self.comments.clear()
        self.plain.clear()
        self.angle = None

    def entry(self) -> tuple[str, str]:
        """(addr-spec candidate, display name) of the entry read so far."""
        if self.angle is not None:
            return self.angle.rpartition(":")[2], " ".join([*self.names, *self.plain])
        words = _SPACED_AT.sub("@", "".join(self.plain)).split()
        with_at = [word for word in words if "@" in word]
        if len(with_at) == 1:
            return with_at[0], " ".join(self.comments) or " ".join(w for w in words if "@" not in w)
        if len(self.names) == 1 and "@" in self.names[0]:
            return self.names[0], ""
        return "", ""


def _address_tokens(value: str) -> Iterator[str]:
    """Quoted strings, comments (nested ones whole), angle addresses, separators and the text
    between them; linear in `value`."""
    pos = 0
    while pos < len(value):
        if value[pos] == "(":
            end = _comment_end(value, pos)
        else:
            match = _ADDRESS_TOKEN.match(value, pos)
            end = match.end() if match else len(value)
        yield value[pos:end]
        pos = end


def _comment_end(value: str, pos: int) -> int:
    depth = 0
    for piece in _COMMENT_PIECE.finditer(value, pos):
        depth += {"(": 1, ")": -1}.get(piece[0], 0)
        if depth == 0:
            return piece.end()
    return len(value)


def _without_comments(text: str) -> str:
    out = []
    for token in _address_tokens(text):
        if token[0] != "(":
            out.append(token)
    return "".join(out)


def _refusal(address: str) -> str:
    """Why an addr-spec cannot stand for anyone ("" if it can)."""
    if any(unicodedata.category(char) in _UNSEEN or char == "\ufffd" for char in address):
        return "has a character mail clients do not show; it was not used"
    if ENCODED_WORD.search(address):
        return "has an encoded word in it, which no address may; it was not used"
    folded = address.lower()
    if not address.isascii() and sum(map(str.isascii, folded)) != sum(map(str.isascii, address)):
        return "has a letter that reads as another once lower-cased; it was not used"
    return ""


def _shown(address: str) -> str:
    """The address with what cannot be shown as `?`."""
    return "".join("?" if unicodedata.category(c) in _UNSEEN or c == "\ufffd" else c for c in address)


def addresses(values: list[str]) -> tuple[str, ...]:
    """The addr-specs of several headers, in order, each once."""
    seen = dict.fromkeys(address for value in values for _, address in parse_addresses(value))
    return tuple(seen)


# --- Message-IDs --------------------------------------------------------------------------------
