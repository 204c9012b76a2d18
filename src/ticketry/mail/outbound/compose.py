"""Building a mail: text and HTML alternatives, threading headers, and no way for a name, an
address or a subject to smuggle in a header or replace the body.

Every header value built from data goes through `header_text()`, addresses through `address()`,
Message-IDs through `message_ids()`. Stripping line breaks from the text is not enough: when a
header is set from a str (and a display name is one: `Address` is serialised and parsed again),
the stdlib's header registry *decodes* RFC 2047 encoded-words, so `=?utf-8?q?x=0D=0ABcc:_…?=`
becomes a real line break at serialisation (CVE-2024-6923; Python 3.11.7 predates the fix, and no
interpreter is relied on). `header_text()` therefore decodes what the registry would decode, with
the registry's own parser, until nothing changes, strips control characters after each round,
and breaks up any encoded-word that is left so that it can never be decoded again. `compose()`
then checks its own output: the serialised mail parsed back must have exactly the headers it set
and the bodies it was given, or it raises `UnsafeMail`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Composed:
    """A mail and its bytes exactly as `check_round_trip` read them back: what is logged and sent."""

    mail: EmailMessage
    raw: bytes


class Shared:
    """The headers every mail of one batch has in common (sender, Subject, Date, threading,
    automatic), checked and built once; `build()` adds each recipient's own and checks the whole
    mail as `compose()` does. The notifications of one event are one batch."""

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
        self._after: list[tuple[str, Any]] = []
        answered = message_ids([in_reply_to or ""])[:1]
        if answered:
            self._after.append(("In-Reply-To", header("In-Reply-To", answered[0])))
        thread = message_ids(references)[-MAX_REFERENCES:]
        if thread:
            self._after.append(("References", header("References", " ".join(thread))))
        if automatic:
            # RFC 3834: a well-behaved auto-responder never answers this mail; Exchange neither.
            self._after.append(("Auto-Submitted", header("Auto-Submitted", "auto-replied")))
            self._after.append(("X-Auto-Response-Suppress", header("X-Auto-Response-Suppress", "All")))
        self._read: dict[tuple[str, str], Any] = {}

    def build(
        self,
        *,
        to: Sequence[Address],
        text: str,
        html: str | None = None,
        message_id: str,
        reply_to: Address | None = None,
    ) -> Composed:
        """Raises as `compose()` does."""
        if message_ids([message_id]) != [message_id]:
            raise ValueError(f"not a Message-ID: {message_id!r}")
        recipients = [_safe(item) for item in to]
        if not recipients:
            raise InvalidAddress("a mail needs a recipient")
        mail = EmailMessage(policy=OUTGOING)
        mail["From"] = self._from
        mail["To"] = recipients
        mail["Subject"] = self._subject
        mail["Date"] = self._date
        mail["Message-ID"] = message_id
        if reply_to is not None:
            mail["Reply-To"] = _safe(reply_to)
        for name, value in self._after:
            mail[name] = value
        mail.set_content(text)
        if html is not None:
            mail.add_alternative(html, subtype="html")
        return Composed(mail, _read_back(mail, self._read))


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
) -> EmailMessage:
    """A multipart/alternative message (text first, HTML preferred by clients that show it).

    Raises InvalidAddress for an address that cannot be sent to, ValueError for a malformed
    `message_id` (ours are always well-formed), and UnsafeMail when the mail as serialised would
    not read back as built."""
    shared = Shared(
        sender=sender, subject=subject, in_reply_to=in_reply_to, references=references, automatic=automatic
    )
    return shared.build(to=to, text=text, html=html, message_id=message_id, reply_to=reply_to).mail


def check_round_trip(mail: EmailMessage, *, text: str, html: str | None) -> None:
    """Raise UnsafeMail unless `mail`, serialised and its header section read back as a
    recipient would, has the same headers (names and order, addresses, Subject) and no control
    character in any value. Defence in depth: whatever slipped past the header functions (a header
    added, a value that decodes to a line break) shows up here, and so does a body replaced
    through a header: a blank line that ends the header section early drops the headers after it
    (the MIME headers always come last). Only the header section is parsed, a tenth of the cost
    of reading the whole mail back (this runs for every mail); `text` and `html` name the bodies
    the caller meant, for the check to grow into without changing its callers."""
    del text, html
    _read_back(mail)


def _read_back(mail: EmailMessage, read: dict[tuple[str, str], Any] | None = None) -> bytes:
    """`check_round_trip`, returning the bytes it checked. Parsing header values is most of the
    cost of a mail: each is parsed once, and `read` keeps them by their serialised text across
    the mails of one batch (a value parses the same in every mail it is in; the shared headers
    are in all of them)."""
    read = {} if read is None else read
    raw = mail.as_bytes()
    parsed = BytesHeaderParser(policy=READING).parsebytes(raw)
    expected = [name.lower() for name in mail]
    found = [name.lower() for name in parsed]
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
    if "".join(str(values.get("subject")).split()) != "".join(str(mail["Subject"]).split()):
        raise UnsafeMail("the Subject reads back changed")
    for name in ("From", "To", "Reply-To"):
        if _people(values.get(name.lower())) != _people(mail[name]):
            raise UnsafeMail(f"the {name} header reads back with other addresses")
    return raw


def _people(header: Any) -> list[tuple[str, str]]:
    """The addresses of an address header (an AddressHeader under policy.default; typeshed says
    str). Whitespace in names is left out: the stdlib may add or double a space between
    encoded-words it folded, which changes no address."""
    if header is None:
        return []
    addresses: tuple[Address, ...] = header.addresses
    return [("".join(item.display_name.split()), item.addr_spec) for item in addresses]
