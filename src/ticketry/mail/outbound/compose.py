"""Building a mail: text and HTML alternatives, threading headers, and no way for a name, an
address or a subject to smuggle in a header or replace the body.

Every header value built from data goes through `header_text()`, addresses through `address()`,
Message-IDs through `message_ids()`. Stripping line breaks from the text is not enough: when a
header is set from a str (and a display name is one: `Address` is serialised and parsed again),
the stdlib's header registry *decodes* RFC 2047 encoded-words, so `=?utf-8?q?x=0D=0ABcc:_…?=`
becomes a real line break at serialisation (CVE-2024-6923; Python 3.11.7 predates the fix, and no
interpreter is relied on). `header_text()` therefore decodes what the registry would decode, with
the registry's own parser, until nothing changes, strips control characters after each round,
and breaks up any encoded-word that is left so that it can never be decoded again.

The stdlib serialises each header; the mail around them is put together here, as bytes: composing
through `EmailMessage` cost about 1.5 ms a mail, most of it parsing the values it had just been
given, and an event notifies a department of 30. A body is 7-bit or quoted-printable (ASCII
only), so no body line can end the header section or forge a part boundary. `Shared.build`
then checks its own output: its header section parsed back must have exactly the headers it set,
or it raises `UnsafeMail`.
"""

from __future__ import annotations

import binascii
import functools
import re
import secrets
from collections.abc import Iterable, Sequence
from email.errors import HeaderParseError
from email.headerregistry import Address, BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from email.policy import SMTP, default
from email.utils import formatdate, parseaddr
from typing import Any

# C0 (CR, LF, VT, FF, NUL, …), DEL, C1 (NEL \x85 …), the Unicode line and paragraph separators,
# and lone surrogates (what an unknown charset decodes to; they cannot be encoded).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]+")
# Rounds of decoding: a value encoded more often than this keeps its encoded-words, broken up.
MAX_DECODE_ROUNDS = 4
# An encoded-word's start (`=?`) with an end (`?=`) somewhere after it: the registry's parser
# decodes such a word even in the middle of a token, inside quotes or inside an address.
_ENCODED_WORD_START = re.compile(r"=\?(?=.*\?=)", re.DOTALL)
# RFC 5322 `msg-id`, ASCII only: `<left@right>`, the right side may be a `[literal]`.
_MESSAGE_ID = re.compile(
    r"<[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,250}@[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\[\]:-]{1,250}>"
)
# At most this many Message-IDs in References (the root and the latest are what clients use).
MAX_REFERENCES = 20
_ADDRESS_SPECIALS = frozenset(' <>,;:"\\()[]')
# RFC 5322 specials: a display name holding one is sent as a quoted string. The stdlib folds a
# quoted string longer than a line by dropping its quotes (`"Smith, John …"` becomes two
# addresses), so such a name is kept short enough never to be folded.
_PHRASE_SPECIALS = frozenset('()<>@,:;.\\"[]')
MAX_QUOTED_NAME = 64


class _Headers(HeaderRegistry):
    """The stdlib's registry, making each header's class once: its own builds a new class for
    every header set or read, a third of the cost of composing a mail."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._classes.get(key)
        if made is None:
            made = self._classes[key] = super().__getitem__(name)
        return made


# The policies of mail we write (SMTP: CRLF) and of reading it back as a recipient would.
OUTGOING = SMTP.clone(header_factory=_Headers())
READING = default.clone(header_factory=_Headers())


class InvalidAddress(ValueError):
    """Not an address we can send to."""


class UnsafeMail(RuntimeError):
    """The serialised mail does not parse back to the headers and bodies it was built from."""


def _flatten(value: str) -> str:
    """One line: control characters become spaces, runs of whitespace one space."""
    return " ".join(_UNSAFE.sub(" ", value).split())


def _decoded(value: str) -> str:
    """What the header registry makes of `value` when a header is set from it."""
    try:
        return str(READING.header_factory("subject", value))
    except (HeaderParseError, ValueError, LookupError):
        return value  # not decodable: the encoded-words left are broken up below


@functools.lru_cache(maxsize=4096)
def header_text(value: str, *, limit: int) -> str:
    """`value` as the text of one header, safe to set from a str: decoded as the header registry
    would decode it (repeatedly: a double-encoded Subject decodes to an encoded-word), without
    control characters or line breaks, whitespace collapsed, no encoded-word left that could be
    decoded again, at most `limit` characters. Idempotent."""
    # Decoding only shrinks a value: a longer one cannot yield more than `limit` useful characters.
    text = _flatten(value[: limit * 8 + 64])
    for _ in range(MAX_DECODE_ROUNDS):
        decoded = _flatten(_decoded(text))
        if decoded == text:
            break
        text = decoded
    text = _ENCODED_WORD_START.sub("= ?", text)
    return text[:limit].rstrip()


def address(email: str, name: str = "") -> Address:
    """A deliverable ASCII address with a safe display name. Refused (InvalidAddress): anything
    that could be read as more than one address, a quoted or non-ASCII local part (SMTPUTF8 is not
    used), and an encoded-word (the registry would decode it inside the address, line breaks
    included)."""
    email = _flatten(email)[:320]
    local, at, domain = email.rpartition("@")
    if (
        not at
        or not local
        or not domain
        or not email.isascii()
        or "=?" in email
        or not _ADDRESS_SPECIALS.isdisjoint(email)
    ):
        raise InvalidAddress(f"not a deliverable address: {email!r}")
    return Address(display_name=_display_name(name), username=local, domain=domain)


def _display_name(value: str) -> str:
    name = header_text(value, limit=200)
    if _PHRASE_SPECIALS.isdisjoint(name):
        return name
    # Quoted, `"` and `\\` take two characters each.
    room = MAX_QUOTED_NAME
    for end, char in enumerate(name):
        room -= 2 if char in '"\\' else 1
        if room < 0:
            return name[:end].rstrip()
    return name


def _safe(value: Address) -> Address:
    """An Address made elsewhere, through the same checks as `address()`."""
    return address(f"{value.username}@{value.domain}", value.display_name)


def parse_from(value: str) -> Address:
    """`TICKETRY_MAIL_FROM` (`Name <addr>`) as an Address."""
    name, email = parseaddr(value)
    return address(email, name)


def message_ids(values: Iterable[str]) -> list[str]:
    """The well-formed `<id@domain>` tokens among `values` (each may hold several, as a References
    header does), in order, without repeats; anything else is dropped."""
    found: dict[str, None] = {}
    for value in values:
        for token in value.split():
            if _MESSAGE_ID.fullmatch(token) and "=?" not in token:
                found[token] = None
    return list(found)


class Composed:
    """A mail as bytes, exactly as `_check_head` read its header section back: what is logged and
    sent; and the headers it was built with (`mail["To"]` …: the stdlib's header objects), which
    the log's columns are read from."""

    __slots__ = ("_headers", "raw")

    def __init__(self, raw: bytes, headers: dict[str, Any]) -> None:
        self.raw = raw
        self._headers = headers

    def __getitem__(self, name: str) -> Any:
        return self._headers.get(name.lower())


# A multipart boundary: `=_` never occurs in quoted-printable text (a `=` is followed by two hex
# digits or ends a line), and the random part makes it unguessable in 7-bit text (checked too).
_BOUNDARY_BYTES = 16
# RFC 5322's recommended line length: shorter ASCII text is sent as it is.
_PLAIN_LINE = 78
CRLF = b"\r\n"


def _body(text: str, subtype: str) -> tuple[bytes, bytes]:
    """A text part's MIME headers and its body: UTF-8, lines ending in CRLF; 7-bit when the
    text is ASCII in short lines, quoted-printable (ASCII, at most 76 characters a line) when not.
    CR, LF and CR LF all end a line, as in the stdlib's `set_content`."""
    lines = text.encode("utf-8").splitlines()
    if text.isascii() and all(len(line) <= _PLAIN_LINE for line in lines):
        encoding, body = b"7bit", CRLF.join(lines)
    else:
        encoding = b"quoted-printable"
        body = binascii.b2a_qp(b"\n".join(lines), istext=True).replace(b"\n", CRLF)
    headers = b'Content-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: %s\r\n' % (
        subtype.encode(),
        encoding,
    )
    return headers, body + CRLF


def _line(header: Any) -> bytes:
    """A header object as the stdlib serialises it: folded, encoded-words where needed, CRLF."""
    return OUTGOING.fold_binary(header.name, header)


class Shared:
    """The headers every mail of one batch has in common (sender, Subject, Date, threading,
    automatic), checked, built and serialised once; `build()` adds each recipient's own (To,
    Message-ID, Reply-To: the stdlib's header objects) and the bodies, and checks the header
    section as a recipient reads it. The notifications of one event are one batch; `compose()` is
    a batch of one."""

    def __init__(
        self,
        *,
        sender: Address,
        subject: str,
        in_reply_to: str | None = None,
        references: Sequence[str] = (),
        automatic: bool = True,
    ) -> None:
        header = OUTGOING.header_factory
        self._from = header("From", _safe(sender))
        self._subject = header("Subject", header_text(subject, limit=250))
        self._date = header("Date", formatdate(localtime=False, usegmt=True))
        # Message-IDs may come from mail we received: only well-formed ones are repeated.
        after: list[Any] = []
        answered = message_ids([in_reply_to or ""])[:1]
        if answered:
            after.append(header("In-Reply-To", answered[0]))
        thread = message_ids(references)[-MAX_REFERENCES:]
        if thread:
            after.append(header("References", " ".join(thread)))
        if automatic:
            # RFC 3834: a well-behaved auto-responder never answers this mail; Exchange neither.
            after.append(header("Auto-Submitted", "auto-replied"))
            after.append(header("X-Auto-Response-Suppress", "All"))
        self._after = after
        # Serialised once for the batch, as the stdlib folds them (encoded-words where needed, CRLF).
        self._from_line = _line(self._from)
        self._subject_date_lines = _line(self._subject) + _line(self._date)
        self._after_lines = b"".join(_line(value) for value in after)
        self._read: dict[tuple[str, str], Any] = {}
        # One per batch: its Content-Type header then reads back once (checked in every body).
        self._boundary = b"=_" + secrets.token_hex(_BOUNDARY_BYTES).encode()

    def build(
        self,
        *,
        to: Sequence[Address],
        text: str,
        html: str | None = None,
        message_id: str,
        reply_to: Address | None = None,
    ) -> Composed:
        """A multipart/alternative mail (text first, HTML preferred by clients that show it), or a
        text/plain one without `html`. Raises as `compose()` does."""
        if message_ids([message_id]) != [message_id]:
            raise ValueError(f"not a Message-ID: {message_id!r}")
        recipients = [_safe(item) for item in to]
        if not recipients:
            raise InvalidAddress("a mail needs a recipient")
        header = OUTGOING.header_factory
        addressed, identified = header("To", recipients), header("Message-ID", message_id)
        own = [identified] if reply_to is None else [identified, header("Reply-To", _safe(reply_to))]
        ordered = [self._from, addressed, self._subject, self._date, *own, *self._after]
        head = (
            self._from_line
            + _line(addressed)
            + self._subject_date_lines
            + b"".join(_line(value) for value in own)
            + self._after_lines
        )
        plain_headers, plain = _body(text, "plain")
        names = [value.name for value in ordered] + ["MIME-Version", "Content-Type"]
        if html is None:
            head += b"MIME-Version: 1.0\r\n" + plain_headers
            body = plain
            names.append("Content-Transfer-Encoding")
        else:
            html_headers, markup = _body(html, "html")
            boundary = self._boundary
            if boundary in plain or boundary in markup:
                raise UnsafeMail("the boundary occurs in a body")
            head += b"MIME-Version: 1.0\r\n"
            head += b'Content-Type: multipart/alternative;\r\n boundary="%s"\r\n' % boundary
            parts = (plain_headers + CRLF + plain, html_headers + CRLF + markup)
            body = (
                b"".join(b"--" + boundary + CRLF + part + CRLF for part in parts)
                + b"--"
                + boundary
                + b"--"
                + CRLF
            )
        headers = {value.name.lower(): value for value in ordered}
        _check_head(head, names, headers, self._read)
        return Composed(head + CRLF + body, headers)


def compose(
    *,
    sender: Address,
    to: Sequence[Address],
    subject: str,
    text: str,
    html: str | None = None,
    message_id: str,
    in_reply_to: str | None = None,
    references: Sequence[str] = (),
    reply_to: Address | None = None,
    automatic: bool = True,
) -> Composed:
    """One mail: a batch of one (`Shared`).

    Raises InvalidAddress for an address that cannot be sent to, ValueError for a malformed
    `message_id` (ours are always well-formed), and UnsafeMail when the mail as serialised would
    not read back as built."""
    shared = Shared(
        sender=sender, subject=subject, in_reply_to=in_reply_to, references=references, automatic=automatic
    )
    return shared.build(to=to, text=text, html=html, message_id=message_id, reply_to=reply_to)


def check_round_trip(mail: EmailMessage, *, text: str, html: str | None) -> None:
    """Raise UnsafeMail unless `mail`'s header section, serialised and read back as a recipient
    would, has the headers it was set (see `_check_head`). `text` and `html` name the bodies the
    caller meant, for the check to grow into without changing its callers."""
    del text, html
    raw = mail.as_bytes()
    end = raw.find(CRLF + CRLF)
    head = raw if end < 0 else raw[: end + 2]
    _check_head(head, list(mail), {name.lower(): mail[name] for name in mail}, {})


def _check_head(
    head: bytes, names: Sequence[str], headers: dict[str, Any], read: dict[tuple[str, str], Any]
) -> None:
    """Raise UnsafeMail unless the header section `head`, read back as a recipient would, has
    exactly the headers `names`, in order, the values of `headers` (addresses, Subject) and no
    control character in any value: whatever slipped past the header
    functions (a header added, a value that decodes to a line break, a blank line that ends the
    section early and makes the rest body) shows up here. Only the header section is parsed, and
    each value once per batch: `read` keeps them by their serialised text (the shared headers are
    in every mail of the batch)."""
    parsed = BytesHeaderParser(policy=READING).parsebytes(head + CRLF)
    found = [name.lower() for name in parsed]
    expected = [name.lower() for name in names]
    if found != expected:
        raise UnsafeMail(f"the mail reads back with the headers {found}, not {expected}")
    values: dict[str, Any] = {}
    for name, text in parsed.raw_items():
        value = read.get((name, text))
        if value is None:
            value = read[name, text] = READING.header_fetch_parse(name, text)
        if _UNSAFE.search(str(value)):
            raise UnsafeMail(f"the {name} header reads back with a control character")
        values.setdefault(name.lower(), value)
    if parsed.defects:
        raise UnsafeMail(f"the mail reads back with defects: {parsed.defects}")
    if "".join(str(values.get("subject")).split()) != "".join(str(headers.get("subject")).split()):
        raise UnsafeMail("the Subject reads back changed")
    for name in ("from", "to", "reply-to"):
        if _people(values.get(name)) != _people(headers.get(name)):
            raise UnsafeMail(f"the {name} header reads back with other addresses")


def _people(header: Any) -> list[tuple[str, str]]:
    """The addresses of an address header (an AddressHeader under policy.default; typeshed says
    str). Whitespace in names is left out: the stdlib may add or double a space between
    encoded-words it folded, which changes no address."""
    if header is None:
        return []
    addresses: tuple[Address, ...] = header.addresses
    return [("".join(item.display_name.split()), item.addr_spec) for item in addresses]
