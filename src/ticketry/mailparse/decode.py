"""The pieces of a mail that arrive as bytes in a declared, missing or wrong charset, turned into
text: bodies, header sections, RFC 2047 encoded words, RFC 2231 parameters, Message-IDs and
dates (address lists: `addresses`). Pure; used by `parse` (docs/product.md §4, mail in).

Everything here is linear in its input and never raises on bad data, which is why the stdlib's
header parsers are not used: measured on CPython 3.11, the value parser behind
`policy.default` (`email._header_value_parser`) takes 13 s for a 32 KB header of double quotes,
5 s for 32 KB of commas and 8.5 s for 32 KB of dots, raises RecursionError on nested comments
and AttributeError or IndexError on some garbage; `email.utils.getaddresses` recurses on nested
comments too; and `BytesParser(policy=policy.default)` runs that value parser on Content-Type
when it closes, even for headers only (over 8 s for a 1 MB Content-Type of semicolons). A
mail must not be able to stall the worker that reads it. The stdlib still parses dates
(`email.utils`) and decodes quoted-printable and base64 (`binascii`).
"""

from __future__ import annotations

import binascii
import codecs
import email.utils
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote_to_bytes

from ticketry.mailparse.headercharset import guess_charset

MAX_HEADER_SECTION = 1024 * 1024  # bytes of one header section read; the rest is skipped
MAX_HEADER_VALUE = 64 * 1024  # characters of one header value kept
MAX_PARAMS = 64
MAX_MESSAGE_ID = 500

# --- charsets -----------------------------------------------------------------------------------

# Labels mail software writes that Python does not know, or knows as a narrower table than the
# one the sender really used (Windows writes cp1252 and labels it iso-8859-1; gb2312 mail is
# GBK; euc-kr is cp949); the WHATWG encoding standard makes the same substitutions.
_CODECS: dict[str, tuple[str, ...]] = {
    "ascii": ("cp1252",),
    "iso8859-1": ("cp1252",),
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "cp936": ("gb18030",),
    "big5": ("big5hkscs",),
    "euc_kr": ("cp949",),
    "shift_jis": ("cp932",),
    "iso2022_jp": ("iso2022_jp", "iso2022_jp_ext", "iso2022_jp_2"),
    "tis-620": ("cp874",),
}
_EXTRA_LABELS = {
    "iso-8859-8-i": "iso8859-8",
    "iso-8859-6-i": "iso8859-6",
    "x-sjis": "cp932",
    "sjis": "cp932",
    "windows-31j": "cp932",
    "x-gbk": "gb18030",
    "x-euc-jp": "euc_jp",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "windows-874": "cp874",
    "unicode-1-1-utf-7": "utf-7",
}
# Single-byte labels under which UTF-8 text is often sent by mistake: valid UTF-8 with 8-bit
# bytes is read as UTF-8 (real Latin-1 text is almost never valid UTF-8).
_LATIN_LABELS = frozenset({"ascii", "iso8859-1", "cp1252", "iso8859-15"})
# Text codecs that are no charset and are slow or surprising on hostile input.
_NOT_CHARSETS = frozenset(
    {"idna", "punycode", "raw-unicode-escape", "unicode-escape", "undefined", "mbcs", "oem"}
)
_NOT_ASCII_COMPATIBLE = ("utf-7", "utf-16", "utf-32", "iso2022", "hz")
_TOLERATED_ERRORS = 0.01  # share of undecodable characters at which the declared charset still wins


def _codec(label: str) -> str | None:
    """Python's name for a charset label, or None for unknown or non-text codecs."""
    label = _EXTRA_LABELS.get(label, label)
    try:
        info = codecs.lookup(label)
    except (LookupError, ValueError):
        return None
    if not getattr(info, "_is_text_encoding", True) or info.name in _NOT_CHARSETS:
        return None
    return info.name


def _label(charset: str | None) -> str:
    label = (charset or "").strip().strip("\"'").strip().lower()
    return label.partition("*")[0][:40]  # RFC 2231 language suffix: "utf-8*en"


def decode_text(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """`data` as text, and a note when the declared charset was unknown or wrong.

    Tries, strictly: UTF-8 first when a Latin-1-ish label carries valid 8-bit UTF-8; then the
    declared charset (or its common superset); then UTF-8; then windows-1252. When all fail, the
    declared charset with replacement characters if only a few bytes were bad (a truncated
    body), else Latin-1, which reads anything.
    """
    label = _label(charset)
    codec = _codec(label) if label else None
    shown = re.sub(r"[^\x21-\x7e]", "?", label)
    if data.isascii() and not (codec or "").startswith(_NOT_ASCII_COMPATIBLE):
        return data.decode("ascii"), None
    tries: list[str] = []
    if codec in _LATIN_LABELS or codec is None:
        tries.append("utf-8")
    if codec is not None:
        tries.extend(_CODECS.get(codec, (codec,)))
    tries.extend(("utf-8", "cp1252"))
    for name in dict.fromkeys(tries):
        try:
            text = data.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
        return text, _charset_note(label, shown, codec, name)
    if codec is not None:
        lenient = data.decode(codec, "replace")
        if lenient.count("\ufffd") <= max(2, len(lenient) * _TOLERATED_ERRORS):
            return lenient, f"Text declared as '{shown}' had undecodable bytes; they were replaced"
    return data.decode("latin-1"), (
        f"Undecodable charset '{shown}' read as latin-1" if label else "Undeclared 8-bit text read as latin-1"
    )


def _charset_note(label: str, shown: str, codec: str | None, used: str) -> str | None:
    if not label:
        return None
    shown_used = "windows-1252" if used == "cp1252" else used
    if codec is None:
        return f"Unknown charset '{shown}' read as {shown_used}"
    if used == codec or (used in _CODECS.get(codec, ()) and codec != "ascii"):
        return None
    if used == "utf-8" and codec in _LATIN_LABELS:
        return f"Text declared as '{shown}' was UTF-8"
    return f"Text declared as '{shown}' was not; read as {shown_used}"


def decode_loose(data: bytes) -> str:
    """Bytes of unknown charset (raw 8-bit header text): UTF-8 if valid, else windows-1252."""
    return decode_text(data, None)[0]


_UNWANTED = re.compile("[\x00\ud800-\udfff]")


def scrub(text: str) -> str:
    """Without NUL (PostgreSQL refuses it in text) and lone surrogates (unencodable)."""
    return _UNWANTED.sub("", text)


# --- transfer encodings -------------------------------------------------------------------------

_B64_JUNK = bytes(c for c in range(256) if not (chr(c).isascii() and (chr(c).isalnum() or chr(c) in "+/=")))


def decode_transfer(data: bytes, encoding: str | None) -> bytes:
    """The body of a part under its Content-Transfer-Encoding, leniently: junk in base64 is
    skipped and bad padding mended; an unknown encoding leaves the bytes as they are."""
    name = (encoding or "").strip().lower()
    if name == "base64":
        return _base64(data)
    if name == "quoted-printable":
        return binascii.a2b_qp(data)
    if name in ("x-uuencode", "uuencode", "x-uue", "uue"):
        return _uudecode(data)
    return data


def _base64(data: bytes) -> bytes:
    clean = data.translate(None, _B64_JUNK)
    try:
        return binascii.a2b_base64(clean)
    except (binascii.Error, ValueError):
        clean = clean.replace(b"=", b"")
        clean = clean[: len(clean) - 1] if len(clean) % 4 == 1 else clean
        return binascii.a2b_base64(clean + b"=" * (-len(clean) % 4))


def _uudecode(data: bytes) -> bytes:
    lines = (line for line in data.splitlines() if not line.startswith((b"begin ", b"end")))
    return uudecode_lines(lines)[0]


def uudecode_lines(lines: Iterable[bytes]) -> tuple[bytes, int]:
    """The bytes of uuencoded lines (those of a part's transfer encoding, or of a `begin` block in
    a text), and how many lines were not uuencoding and were skipped. Blank lines are skipped."""
    out = bytearray()
    bad = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            out += binascii.a2b_uu(line)
        except (binascii.Error, ValueError):
            bad += 1
    return bytes(out), bad


# --- header sections ----------------------------------------------------------------------------

# The first line that is neither a header field nor a continuation (a blank line included); the
# same rule as the stdlib feedparser's headerRE.
_NOT_HEADER_LINE = re.compile(rb"^(?![!-9;-~]+[ \t]*:|[ \t])", re.MULTILINE)
_FIELD = re.compile(rb"([!-9;-~]+)[ \t]*:")
_LINE_END = re.compile(rb"\r?\n")
# Fields a header section has and a body rarely begins with: a line that is no header field is a
# malformed header line, not the first line of the body, only when one of these follows it.
_KNOWN_FIELD = re.compile(
    rb"(?i:from|sender|reply-to|to|cc|bcc|subject|date|message-id|in-reply-to|references|"
    rb"mime-version|content-[a-z-]+|received|received-spf|return-path|delivered-to|envelope-to|"
    rb"x-[!-9;-~]+|list-[a-z-]+|dkim-signature|arc-[a-z-]+|authentication-results|resent-[a-z-]+|"
    rb"importance|priority|precedence|auto-submitted|thread-[a-z]+|user-agent|organization|"
    rb"errors-to|disposition-notification-to)[ \t]*:"
)
# Address fields keep a NUL as U+FFFD (other fields drop it): an address with a NUL in it is no
# address, and must not become the address without it.
_ADDRESS_FIELDS = frozenset({"from", "sender", "reply-to", "to", "cc", "bcc", "resent-from", "resent-sender"})


@dataclass(frozen=True)
class HeaderSection:
    fields: tuple[tuple[str, str], ...]  # (lower-case name, unfolded value as text)
    body_start: int
    truncated: bool  # the section was larger than MAX_HEADER_SECTION
    long_value: bool  # some value was cut at MAX_HEADER_VALUE
    problems: tuple[str, ...] = ()  # for people: lines skipped, a charset guessed

    def get(self, name: str) -> str | None:
        return next((value for key, value in self.fields if key == name), None)

    def get_all(self, name: str) -> list[str]:
        return [value for key, value in self.fields if key == name]


def read_header_section(buf: bytes, start: int = 0, end: int | None = None) -> HeaderSection:
    """The header fields at `buf[start:end]` and where the body begins.

    The section ends at the first blank line, or at the first line that is no header and is not
    followed by a known header field (then that line begins the body, as in the stdlib); a line
    that is followed by one is a malformed header line, skipped, and the fields after it are read
    (as the stdlib does with its defects, and mail clients do). At most MAX_HEADER_SECTION bytes
    of it are read; raw 8-bit text in a value is read as UTF-8, else in the charset
    `headercharset` guesses, else windows-1252. The stdlib feedparser is not used even here: its
    `close()` parses Content-Type with the quadratic value parser (over 8 s for a 1 MB
    Content-Type of semicolons, headers-only or not).
    """
    end = len(buf) if end is None else end
    pos = start
    if buf.startswith(b"From ", pos, end):  # an mbox separator line
        newline = buf.find(b"\n", pos, end)
        pos = end if newline < 0 else newline + 1
    header_end, skipped = _header_end(buf, pos, end)
    body_start = header_end
    blank = _LINE_END.match(buf, header_end, end)
    if blank:
        body_start = blank.end()
    truncated = header_end - pos > MAX_HEADER_SECTION
    if truncated:
        header_end = pos + MAX_HEADER_SECTION  # a line cut here is kept in part
    raw_fields: list[tuple[str, bytes]] = []
    long_value = False
    name = ""
    value: list[bytes] = []
    size = 0
    for raw_line in buf[pos:header_end].split(b"\n"):
        line = raw_line.removesuffix(b"\r")
        if line[:1] in (b" ", b"\t"):  # a continuation (unfolding keeps its whitespace)
            if name and size < MAX_HEADER_VALUE:
                value.append(line)
                size += len(line)
            continue
        if name:
            long_value |= _add_field(raw_fields, name, value)
        field = _FIELD.match(line)
        name = field[1].decode("ascii").lower() if field else ""  # "": a skipped line
        rest = line[field.end() :] if field else b""
        value, size = [rest.lstrip(b" \t")], len(rest)
    if name:
        long_value |= _add_field(raw_fields, name, value)
    fields, problems = _decode_fields(raw_fields)
    if skipped:
        problems.insert(0, _skipped_note(buf, skipped))
    return HeaderSection(tuple(fields), body_start, truncated, long_value, tuple(problems))


def _header_end(buf: bytes, pos: int, end: int) -> tuple[int, list[int]]:
    """Where the header section from `pos` ends, and where the malformed lines in it start."""
    skipped: list[int] = []
    while True:
        match = _NOT_HEADER_LINE.search(buf, pos, end)
        if match is None:
            return end, skipped
        line = match.start()
        newline = buf.find(b"\n", line, end)
        if _LINE_END.match(buf, line, end) or newline < 0 or not _KNOWN_FIELD.match(buf, newline + 1, end):
            return line, skipped
        skipped.append(line)
        pos = newline + 1


def _skipped_note(buf: bytes, skipped: list[int]) -> str:
    first = skipped[0]
    newline = buf.find(b"\n", first, first + 200)
    shown = single_line(decode_loose(buf[first : newline if newline >= 0 else first + 200]), 60)
    if len(skipped) == 1:
        return (
            f'A line in the headers was not a header field and was skipped ("{shown}"); '
            "the headers after it were read"
        )
    return (
        f"{len(skipped)} lines in the headers were not header fields and were skipped "
        f'(the first: "{shown}"); the headers after them were read'
    )


def _add_field(fields: list[tuple[str, bytes]], name: str, pieces: list[bytes]) -> bool:
    """Append one unfolded field; whether its value had to be cut at MAX_HEADER_VALUE."""
    raw = b"".join(pieces).replace(b"\r", b" ")
    fields.append((name, raw[:MAX_HEADER_VALUE]))
    return len(raw) > MAX_HEADER_VALUE


def _decode_fields(raw_fields: list[tuple[str, bytes]]) -> tuple[list[tuple[str, str]], list[str]]:
    """The values as text, and a note when a charset had to be guessed for raw 8-bit text that is
    not UTF-8 (one guess for the whole section: a mailer writes all its headers alike)."""
    undeclared = [raw for _, raw in raw_fields if not raw.isascii() and not _is_utf8(raw)]
    guess = None
    if undeclared:
        content_type = next((raw for name, raw in raw_fields if name == "content-type"), b"")
        declared = split_params(decode_loose(content_type))[1].get("charset") if content_type else None
        guess = guess_charset(b"\n".join(undeclared), declared=_codec(_label(declared)) if declared else None)
    fields = []
    for name, raw in raw_fields:
        text = _header_text(raw, guess[0] if guess else None)
        if name in _ADDRESS_FIELDS:
            text = text.replace("\x00", "\ufffd")
        fields.append((name, scrub(text.strip())))
    problems = [f"Headers in an undeclared charset were read as {guess[1]} (a guess)"] if guess else []
    return fields, problems


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _header_text(raw: bytes, guessed: str | None) -> str:
    if raw.isascii():
        return raw.decode("ascii")
    for codec in ("utf-8", guessed) if guessed else ("utf-8",):
        try:
            return raw.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    return decode_loose(raw)


# --- encoded words (RFC 2047) -------------------------------------------------------------------

# Tolerant: spaces inside the encoded text, no whitespace around the word, missing padding.
ENCODED_WORD = re.compile(r"=\?([^?\s]{1,60})\?([QqBb])\?([^?]*)\?=")


def decode_header_value(value: str | bytes) -> str:
    """A header value as text: unfolded, raw 8-bit read as UTF-8 (else windows-1252), RFC 2047
    encoded words decoded, also in the broken forms mailers write (adjacent words of one charset
    are joined before decoding, so a character split across two words survives)."""
    text = decode_loose(value) if isinstance(value, bytes) else value
    text = text.replace("\r", "").replace("\n", "")
    if "=?" not in text:
        return scrub(text)
    out: list[str] = []
    run = bytearray()
    run_charset = ""
    pos = 0
    after_word = False
    for match in ENCODED_WORD.finditer(text):
        gap = text[pos : match.start()]
        if not (after_word and (not gap or gap.isspace())):
            if run:
                out.append(decode_text(bytes(run), run_charset)[0])
                run.clear()
            out.append(gap)
        charset = _label(match[1])
        data = match[3].encode("utf-8", "replace")
        word = binascii.a2b_qp(data, header=True) if match[2] in "Qq" else _base64(data)
        if run and charset != run_charset:
            out.append(decode_text(bytes(run), run_charset)[0])
            run.clear()
        run += word
        run_charset = charset
        pos = match.end()
        after_word = True
    if run:
        out.append(decode_text(bytes(run), run_charset)[0])
    out.append(text[pos:])
    return scrub("".join(out))


def single_line(text: str, limit: int) -> str:
    """Whitespace (line breaks, tabs, control characters) collapsed to single spaces, cut."""
    return " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", text).split())[:limit]


# --- parameters (Content-Type, Content-Disposition; RFC 2045, 2231) -----------------------------

_PARAM_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*(?:"|$)|\((?:[^()\\]|\\.)*(?:\)|$)|;|[^;"(]+', re.DOTALL)
_SECTION = re.compile(r"^(.+?)\*(\d{1,3})?(\*)?$")
_NAMES = frozenset({"name", "filename"})
QUOTED_PAIR = re.compile(r"\\(.)", re.DOTALL)


def unquote(value: str) -> str:
    value = value.strip()
    if value.startswith('"'):
        value = value[1:-1] if len(value) > 1 and value.endswith('"') else value[1:]
        return QUOTED_PAIR.sub(r"\1", value)
    return value


def split_params(value: str) -> tuple[str, dict[str, str]]:
    """`text/plain; charset="utf-8"` → ("text/plain", {"charset": "utf-8"}): the main value
    lower-cased, comments dropped, parameter names lower-cased, values unquoted, RFC 2231
    sections joined and decoded, RFC 2047 words in quoted values (Outlook's filenames) decoded."""
    segments: list[list[str]] = [[]]
    for token in _PARAM_TOKEN.findall(value):
        if token == ";":  # noqa: S105 - a separator, not a secret
            if len(segments) > MAX_PARAMS:
                break
            segments.append([])
        elif not token.startswith("("):
            segments[-1].append(token)
    main = "".join(segments[0]).strip().lower()
    plain: dict[str, str] = {}
    sections: dict[str, list[tuple[int, str, bool]]] = {}
    for segment in segments[1:]:
        name, equals, raw = "".join(segment).partition("=")
        name = name.strip().lower()
        if not equals or not name:
            continue
        section = _SECTION.match(name)
        if section:
            sections.setdefault(section[1], []).append(
                (int(section[2] or 0), unquote(raw), bool(section[3] or not section[2]))
            )
        else:
            plain.setdefault(name, unquote(raw))
    params = {
        name: decode_header_value(value) if name in _NAMES and "=?" in value else value
        for name, value in plain.items()
    }
    for name, pieces in sections.items():
        params[name] = _rfc2231(sorted(pieces, key=lambda piece: piece[0]))
    return main, params


def _rfc2231(pieces: list[tuple[int, str, bool]]) -> str:
    charset = ""
    data = bytearray()
    for number, piece, encoded in pieces:
        if encoded:
            text = piece
            if number == 0 and piece.count("'") >= 2:
                charset, _, text = piece.split("'", 2)
            data += unquote_to_bytes(text)
        else:
            data += piece.encode("utf-8")
    return decode_text(bytes(data), charset or "utf-8")[0]


# --- addresses ----------------------------------------------------------------------------------

_COMMENT = re.compile(r"\([^()]*\)")
_BRACKETED_ID = re.compile(r"<\s*([^<>\s]+)\s*>")
_ID_TEXT = re.compile(r"[\x21-\x7e]+")


def message_ids(value: str) -> list[str]:
    """The Message-IDs in a Message-ID, In-Reply-To or References value, each as `<id>`.

    Comments and phrases around them are ignored; an id must be printable ASCII without
    brackets. Without any angle bracket, bare tokens that contain `@` are taken (some mailers
    write them so)."""
    text = _COMMENT.sub(" ", value)
    found = [m[1] for m in _BRACKETED_ID.finditer(text)]
    if not found and "<" not in text and ">" not in text:
        found = [token for token in text.split() if "@" in token]
    return [f"<{mid}>" for mid in found if len(mid) <= MAX_MESSAGE_ID and _ID_TEXT.fullmatch(mid)]


# --- dates --------------------------------------------------------------------------------------


def parse_date(value: str) -> datetime | None:
    """A Date header as an aware UTC datetime; a date without a zone is taken as UTC."""
    try:
        parsed = email.utils.parsedate_to_datetime(single_line(value, 200))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


# --- format=flowed (RFC 3676) -------------------------------------------------------------------


def unflow(text: str, *, delsp: bool) -> str:
    """Soft line breaks of a format=flowed body joined, so paragraphs and quotes read whole."""
    out: list[str] = []
    paragraph: list[str] = []
    depth = -1
    for line in text.split("\n"):
        stripped = line.lstrip(">")
        level = len(line) - len(stripped)
        content = stripped[1:] if stripped.startswith(" ") else stripped
        if paragraph and level != depth:
            out.append(_quoted(depth, "".join(paragraph)))
            paragraph = []
        depth = level
        flowed = content.endswith(" ") and content != "-- "
        paragraph.append(content[:-1] if flowed and delsp else content)
        if not flowed:
            out.append(_quoted(depth, "".join(paragraph)))
            paragraph = []
    if paragraph:
        out.append(_quoted(depth, "".join(paragraph)))
    return "\n".join(out)


def _quoted(depth: int, text: str) -> str:
    return (">" * depth + " " + text) if depth > 0 else text
