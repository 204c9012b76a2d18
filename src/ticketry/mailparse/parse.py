"""Reading one raw inbound mail into what the helpdesk needs (docs/product.md §4, mail in): addresses and
threading ids, a text for the ticket (full, and with quoted history stripped for display),
sanitised HTML, the attachments and inline images, and the delivery report of a bounce. Pure:
no database, no I/O, no web framework.

`parse` never raises and stays bounded in time and memory whatever it is given, because a mail
is written by anyone. The MIME tree is split here, linearly and without recursion past
MAX_DEPTH, rather than by the stdlib feedparser: on CPython 3.11 that raises RecursionError
from about 1,000 nested parts, slows with every level (each line is checked against every open
boundary) and takes 2.5 s for 10,000 flat parts; `decode` says why header sections and values
are not read by the stdlib either. Past a limit the rest is left out and said so in `problems`.
A forwarded mail (`message/rfc822`, except the bounced mail of a delivery report) is walked the
same way, on its own bytes, sharing every limit of the mail that carries it, MAX_FORWARD_DEPTH
forwards deep at most (`forwarded`); winmail.dat is unpacked (`tnef`), and files uuencoded into
a text are taken out of it (`uuencoded`).

Every stage has a size budget (the limits below, past which input is cut and the cut noted) and
a time budget (`budget.STAGE_SECONDS`, CPU time of the reading thread, so a busy machine does not change
the outcome). The size budgets keep each stage linear and far below its time budget; the time
budget is the backstop for shapes no one has measured yet: a stage that runs over it sets
`over_budget`, the stages after it are skipped (no unsanitised HTML is ever returned), and
`classify` refuses the mail, which stays stored for an admin to read (issue 12 item 4).
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from urllib.parse import unquote

from ticketry.mailparse import bounces, quotes, tnef, uuencoded
from ticketry.mailparse.addresses import addresses
from ticketry.mailparse.bounces import DeliveryReport
from ticketry.mailparse.budget import (
    BOUNCE_REPORT,
    CHARSET_DECODING,
    HTML_SANITISING,
    HTML_TO_TEXT,
    MIME_STRUCTURE,
    QUOTE_STRIPPING,
    TNEF_UNPACKING,
    UUDECODING,
    Budget,
)
from ticketry.mailparse.decode import (
    HeaderSection,
    decode_header_value,
    decode_loose,
    decode_text,
    decode_transfer,
    message_ids,
    parse_date,
    read_header_section,
    scrub,
    single_line,
    split_params,
    unflow,
)
from ticketry.mailparse.forwarded import (
    MAX_FORWARD_DEPTH,
    MAX_FORWARDS,
    Forward,
    html_with_forwards,
    with_forwards,
)
from ticketry.mailparse.htmlbody import html_to_text, sanitise_html
from ticketry.mailparse.mime import boundary_spans as _split  # a module global: tests replace it
from ticketry.mailparse.mime import content_id, default_name
from ticketry.mailparse.senders import choose_sender

__all__ = ["DeliveryReport", "MailFile", "ParsedMail", "decode_header_value", "parse"]

MAX_RAW_BYTES = 50 * 1024 * 1024  # the caller refuses more; a guard, not a policy
MAX_PARTS = 500  # MIME parts walked, containers included, and files taken out of parts
MAX_DEPTH = 20  # nesting of multiparts and forwarded mails
MAX_BODY = 1024 * 1024  # bytes read of text parts and of HTML parts; characters of `text`
MAX_REFERENCES = 50
MAX_SUBJECT = 500
MAX_PROBLEMS = 20
MAX_RECIPIENTS = 500  # delivery-status blocks read over all parts
_MEGABYTE = "1 MB"


@dataclass(frozen=True)
class MailFile:
    """An attachment or inline image, for the attachments service (which sanitises the name)."""

    # Decoded (RFC 2231/2047); "image-1.png", "attachment-2.bin" when the mail names none. Files
    # come from parts, from forwarded mails (each kept whole as an .eml file too), from winmail.dat
    # (unpacked: `tnef`) and from uuencoded blocks in a text (`uuencoded`).
    filename: str
    content_type: str  # as declared, lower-case; informational only
    content: bytes = field(repr=False)
    content_id: str | None  # without <>
    inline: bool  # the HTML shows it through a `cid:` link; otherwise list it as an attachment


@dataclass(frozen=True)
class ParsedMail:
    """One inbound mail as read by `parse`. Every field has a default so that tests of the
    classifier and of threading can build one directly."""

    message_id: str | None = None  # "<local@domain>"; None if missing or garbage
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()  # at most the last MAX_REFERENCES
    from_address: str = ""  # lower-case addr-spec; "" if none or garbage
    from_name: str = ""
    reply_to: tuple[str, ...] = ()
    to: tuple[str, ...] = ()
    cc: tuple[str, ...] = ()
    delivered_to: tuple[str, ...] = ()  # Delivered-To, X-Original-To, Envelope-To
    subject: str = ""  # decoded, one line, at most MAX_SUBJECT characters
    date: datetime | None = None  # aware UTC
    # The whole body text (text/plain preferred, else from the HTML), then each forwarded mail
    # quoted (its sender, date, subject and text: `forwarded`), ≤ MAX_BODY.
    text: str = ""
    html: str | None = None  # sanitised, forwards quoted; `cid:` sources kept for the caller to rewrite
    # The body text without quoted history and signature, then the forwards, whole; never empty
    # if `text` is not.
    reply_text: str = ""
    files: tuple[MailFile, ...] = ()
    report: DeliveryReport | None = None
    problems: tuple[str, ...] = ()  # for people: what was cut, ignored or guessed
    header_fields: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # (lower name, raw value)
    remote_images_blocked: int = 0  # remote images removed from `html`
    over_budget: str = ""  # why reading stopped early (a stage ran over its time budget); "" if it did not

    @cached_property
    def _header_index(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = {}
        for name, value in self.header_fields:
            index.setdefault(name, []).append(value)
        return index

    def header(self, name: str) -> str | None:
        """The first value of a header (any case of name), decoded; None if absent."""
        values = self._header_index.get(name.lower())
        return decode_header_value(values[0]).strip() if values else None

    def headers(self, name: str) -> tuple[str, ...]:
        """Every value of a header, decoded, in order."""
        return tuple(decode_header_value(v).strip() for v in self._header_index.get(name.lower(), ()))

    def raw_headers(self, name: str) -> tuple[str, ...]:
        """Every value of a header as written (unfolded, never RFC 2047-decoded), in order: for
        structured headers whose syntax an encoded-word must not be able to change."""
        return tuple(v.strip() for v in self._header_index.get(name.lower(), ()))


def parse(raw: bytes, *, remote_images: bool = False) -> ParsedMail:
    """Read a raw RFC 5322 mail. Never raises: anything unexpected gives a best-effort result
    whose `problems` say so. `remote_images=True` keeps remote image sources in `html` (for an
    agent who chose to load them; the stored raw mail is parsed again)."""
    try:
        return _Reader(bytes(raw), remote_images=remote_images).read()
    except Exception as error:  # the contract: a mail never breaks the worker that reads it
        return _fallback(raw, error)


# --- reading ------------------------------------------------------------------------------------

_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
_DELIVERY_STATUS = frozenset({"message/delivery-status", "message/global-delivery-status"})
_HEADERS_ONLY = frozenset({"text/rfc822-headers", "message/global-headers"})
_MESSAGE = frozenset({"message/rfc822", "message/global"})
_TNEF = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})
_LEADING_BLANK = re.compile(rb"(?:[ \t]*\r?\n)*")
_CID_SOURCE = re.compile(r'src="cid:([^"]*)"', re.IGNORECASE)
_PATH_SEPARATORS = re.compile(r"[/\\]")
_BROKEN = "The MIME structure was broken; read as plain text"


@dataclass
class _Body:
    plain: str | None = None
    html: str | None = None


@dataclass(frozen=True)
class _Part:
    section: HeaderSection
    end: int
    buf: bytes  # the mail's bytes, or those of the forwarded mail the part is in
    default_type: str = "text/plain"
    returned: bool = False  # in a delivery report: a mail in it is the one that bounced


@dataclass
class _Opened:
    """A forwarded mail being read: its headers, its body parts and the forwards inside it."""

    headers: HeaderSection
    bodies: list[_Body] = field(default_factory=list)
    inner: list[_Opened] = field(default_factory=list)


@dataclass(frozen=True)
class _Winmail:
    """An unpacked winmail.dat: kept as it came (at `index` of the files) only if nothing could be
    taken out of it; its body is the mail's text only if the mail has no other."""

    index: int
    draft: _Draft
    body: _Body | None
    unpacked_files: bool
    rtf_only: bool
    forwarded: bool


@dataclass(frozen=True)
class _Draft:
    filename: str
    content_type: str
    content: bytes
    content_id: str | None


class _Reader:
    def __init__(self, raw: bytes, *, remote_images: bool) -> None:
        if len(raw) > MAX_RAW_BYTES:
            raw = raw[:MAX_RAW_BYTES]
        head = raw[:65536]
        if b"\n" not in head and b"\r" in head:  # old Mac line ends
            raw = raw.replace(b"\r", b"\n")
        self.buf = raw
        self.remote_images = remote_images
        self.problems: list[str] = []
        self.parts = 0
        self.ignored = 0
        self.too_deep = 0
        self.text_left = MAX_BODY
        self.html_left = MAX_BODY
        self.drafts: list[_Draft] = []
        self.recipients: list[HeaderSection] | None = None  # of delivery-status parts, if any
        self.original: HeaderSection | None = None  # headers of an attached or bounced mail
        self.opened: list[list[_Opened]] = [[]]  # the forwards of the mail, of a forward in it, …
        self.forwards = 0
        self.seen_forwards: set[bytes] = set()  # one forward in two alternatives is one forward
        self.winmails: list[_Winmail] = []
        self.budget = Budget()

    def note(self, problem: str | None) -> None:
        if problem and problem not in self.problems and len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)

    def read(self) -> ParsedMail:
        start = _LEADING_BLANK.match(self.buf)
        with self.budget.stage(MIME_STRUCTURE):
            top = self.section(start.end() if start else 0, len(self.buf), self.buf)
            bodies = self.walk(_Part(top, len(self.buf), self.buf), 0)
        if self.ignored:
            self.note(_parts(self.ignored, f"beyond the {MAX_PARTS}-part limit"))
        if self.too_deep:
            self.note(_parts(self.too_deep, f"nested deeper than {MAX_DEPTH} levels"))
        bodies = self.winmail_bodies(bodies)
        own, html, blocked = self.assemble(bodies)
        forwards, removed = self.forwarded(self.opened[0])
        text = self.cut(with_forwards(own, forwards))
        if html is not None and forwards:
            html = html_with_forwards(html, forwards)
        sender = choose_sender(top)
        from_name, from_address = sender.name, sender.address
        for problem in sender.problems:
            self.note(problem)
        subject = single_line(decode_header_value(top.get("subject") or ""), MAX_SUBJECT)
        sources = {unquote(s).strip().strip("<>").lower() for s in _CID_SOURCE.findall(html or "")}
        reply = self.cut(with_forwards(self.reply_text(own), forwards))
        report = self.report(from_address, subject, own)
        self.note(self.budget.over)
        return ParsedMail(
            message_id=next(iter(message_ids(top.get("message-id") or "")), None),
            in_reply_to=_ids(top.get_all("in-reply-to"))[:MAX_REFERENCES],
            references=_ids(top.get_all("references"))[-MAX_REFERENCES:],
            from_address=from_address,
            from_name=from_name,
            reply_to=addresses(top.get_all("reply-to")),
            to=addresses(top.get_all("to")),
            cc=addresses(top.get_all("cc")),
            delivered_to=addresses(
                [*top.get_all("delivered-to"), *top.get_all("x-original-to"), *top.get_all("envelope-to")]
            ),
            subject=subject,
            date=parse_date(top.get("date") or ""),
            text=text,
            html=html,
            reply_text=reply,
            files=tuple(
                MailFile(
                    d.filename,
                    d.content_type,
                    d.content,
                    d.content_id,
                    d.content_id is not None and d.content_id.lower() in sources,
                )
                for d in self.drafts
            ),
            report=report,
            problems=tuple(self.problems),
            header_fields=top.fields,
            remote_images_blocked=blocked + removed,
            over_budget=self.budget.over,
        )

    def cut(self, text: str) -> str:
        if len(text) > MAX_BODY:
            self.note(f"The text was cut at {_MEGABYTE}")
            return text[:MAX_BODY]
        return text

    def reply_text(self, text: str) -> str:
        if not text.strip():
            return ""
        if self.budget.over:
            return text.strip()
        with self.budget.stage(QUOTE_STRIPPING):
            return quotes.reply_text(text)

    def report(self, sender: str, subject: str, text: str) -> DeliveryReport | None:
        if self.budget.over:
            return None
        with self.budget.stage(BOUNCE_REPORT):
            if self.recipients is None:
                return bounces.failure_notice(sender, subject, text, self.original)
            return bounces.delivery_report(self.recipients, self.original)

    def section(self, start: int, end: int, buf: bytes) -> HeaderSection:
        section = read_header_section(buf, start, end)
        if section.truncated:
            self.note(f"A header section larger than {_MEGABYTE} was cut")
        if section.long_value:
            self.note("A header longer than 64 KB was cut")
        for problem in section.problems:
            self.note(problem)
        return section

    def walk(self, part: _Part, depth: int) -> list[_Body]:
        self.parts += 1
        value = part.section.get("content-type")
        ctype, params = split_params(value) if value is not None else (part.default_type, {})
        if not _MIME_TYPE.fullmatch(ctype):
            ctype = "text/plain"  # RFC 2045 §5.2
        if ctype.startswith("multipart/"):
            return self.multipart(part, ctype, params, depth)
        return self.leaf(part, ctype, params, depth)

    def multipart(self, part: _Part, ctype: str, params: dict[str, str], depth: int) -> list[_Body]:
        if depth >= MAX_DEPTH:
            self.too_deep += 1
            return []
        start = part.section.body_start
        spans, total = _split(part.buf, start, part.end, params.get("boundary", ""), MAX_PARTS)
        if not spans:
            self.note(_BROKEN)
            return self.leaf(part, "text/plain", {"charset": params.get("charset", "")}, depth)
        self.ignored += total - len(spans)
        subtype = ctype.partition("/")[2]
        default = "message/rfc822" if subtype == "digest" else "text/plain"
        children: list[list[_Body]] = []
        for index, (child_start, child_end) in enumerate(spans):
            if subtype == "signed" and index:
                break  # the detached signature: meaningless without the raw bytes, which are kept
            if self.parts >= MAX_PARTS or self.budget.over:
                self.ignored += len(spans) - index
                break
            section = self.section(child_start, child_end, part.buf)
            child = _Part(section, child_end, part.buf, default, returned=subtype == "report")
            children.append(self.walk(child, depth + 1))
        if subtype == "alternative":
            merged = [_merge(bodies) for bodies in children]
            plain = next((b.plain for b in merged if b.plain is not None), None)
            html = next((b.html for b in reversed(merged) if b.html is not None), None)
            return [_Body(plain, html)] if plain is not None or html is not None else []
        return [body for bodies in children for body in bodies]

    def content(self, part: _Part) -> bytes:
        encoding = part.section.get("content-transfer-encoding")
        return decode_transfer(part.buf[part.section.body_start : part.end], encoding)

    def leaf(self, part: _Part, ctype: str, params: dict[str, str], depth: int) -> list[_Body]:
        disposition, dparams = split_params(part.section.get("content-disposition") or "")
        filename = dparams.get("filename") or params.get("name") or ""
        in_forward = len(self.opened) > 1  # in a forwarded mail, reports are only text
        shown = ctype in ("text/plain", "text/html") or ctype in _DELIVERY_STATUS | _HEADERS_ONLY
        if ctype in _DELIVERY_STATUS and not in_forward:
            self.recipients = self.recipients or []
            if len(self.recipients) < MAX_RECIPIENTS:
                with self.budget.stage(BOUNCE_REPORT):
                    blocks = bounces.recipient_blocks(self.content(part))
                self.recipients.extend(blocks[: MAX_RECIPIENTS - len(self.recipients)])
        elif ctype in _HEADERS_ONLY and not in_forward:
            data = self.content(part)
            self.original = self.original or self.section(0, len(data), data)
        elif ctype in _MESSAGE:
            self.message(part, filename, ctype, depth)
        elif ctype in _TNEF or filename.lower() == "winmail.dat":
            self.winmail(part, filename, ctype)
        elif shown and disposition != "attachment" and not filename:
            return self.text(part, "text/html" if ctype == "text/html" else "text/plain", params)
        else:
            self.add_file(filename, ctype, self.content(part), content_id(part.section.get("content-id")))
        return []

    def message(self, part: _Part, filename: str, ctype: str, depth: int) -> None:
        """A forwarded mail: kept whole as an .eml file (one forwarded in ours; one forwarded in a
        forward is inside that one's file), its attachments kept, and its text read for showing."""
        data = self.content(part)
        if data in self.seen_forwards:
            return
        self.seen_forwards.add(data)
        start = _LEADING_BLANK.match(data)
        headers = self.section(start.end() if start else 0, len(data), data)
        level = len(self.opened) - 1
        if not level:
            self.original = self.original or headers
            subject = single_line(decode_header_value(headers.get("subject") or ""), 150)
            name = filename or f"{_PATH_SEPARATORS.sub('-', subject) or 'message'}.eml"
            self.add_file(name, ctype, data, content_id(part.section.get("content-id")))
        if part.returned:
            return  # not forwarded to us: the bounced mail of a delivery report
        if level >= MAX_FORWARD_DEPTH:
            deep = f"A mail forwarded more than {MAX_FORWARD_DEPTH} levels deep"
            self.note(f"{deep} is shown only in its .eml file")
            return
        if self.forwards >= MAX_FORWARDS:
            self.note(f"Forwarded mails beyond the first {MAX_FORWARDS} are shown only in their .eml files")
            return
        self.forwards += 1
        opened = _Opened(headers)
        self.opened[-1].append(opened)
        self.opened.append(opened.inner)
        try:
            opened.bodies = self.walk(_Part(headers, len(data), data), depth + 1)
        finally:
            self.opened.pop()

    def forwarded(self, opened: list[_Opened]) -> tuple[list[Forward], int]:
        """The forwards read, each with its text and sanitised HTML; remote images removed."""
        forwards: list[Forward] = []
        blocked = 0
        for item in opened:
            inner, removed = self.forwarded(item.inner)
            text, html, removed_here = self.assemble(item.bodies)
            if html is not None and inner:
                html = html_with_forwards(html, inner)
            forwards.append(Forward.of(item.headers, with_forwards(text, inner), html))
            blocked += removed + removed_here
        return forwards, blocked

    def winmail(self, part: _Part, filename: str, ctype: str) -> None:
        """Outlook's winmail.dat: the files inside it instead of it, and its text (used if the mail
        has no other); kept as it came when it cannot be read or nothing could be taken out."""
        content = self.content(part)
        name = single_line(filename, 255) or "winmail.dat"
        draft = _Draft(name, ctype, content, content_id(part.section.get("content-id")))
        if self.budget.over:
            self.drafts.append(draft)
            return
        with self.budget.stage(TNEF_UNPACKING):
            try:
                unpacked = tnef.unpack(content)
            except tnef.Unreadable as error:
                self.note(f"{name} could not be unpacked ({error}); it was kept as it came")
                self.drafts.append(draft)
                return
        index = len(self.drafts)
        for inner_name, data in unpacked.files:
            if self.parts >= MAX_PARTS:
                self.ignored += 1
                continue
            self.parts += 1
            self.add_file(inner_name, "application/octet-stream", data)
        body = None
        if unpacked.text is not None or unpacked.html is not None:
            plain = unpacked.text[:MAX_BODY] if unpacked.text is not None else None
            body = _Body(plain, unpacked.html[:MAX_BODY] if unpacked.html is not None else None)
        in_forward = len(self.opened) > 1
        self.winmails.append(
            _Winmail(index, draft, body, bool(unpacked.files), unpacked.rtf_only, in_forward)
        )

    def winmail_bodies(self, bodies: list[_Body]) -> list[_Body]:
        """The mail's body parts, or the text of its winmail.dat if it has none; the winmail.dat
        files nothing was taken out of put back among the files."""
        has_text = any((b.plain or "").strip() or (b.html or "").strip() for b in bodies)
        used = None
        if not has_text:
            used = next((w for w in self.winmails if w.body is not None and not w.forwarded), None)
        for found in reversed(self.winmails):
            if found.unpacked_files or found is used:
                continue
            self.drafts.insert(found.index, found.draft)
            if found.rtf_only and not has_text and not found.forwarded:
                name = found.draft.filename
                self.note(f"The text of the mail is rich text (RTF) in {name}, which is not read")
        return [used.body] if used is not None and used.body is not None else bodies

    def text(self, part: _Part, ctype: str, params: dict[str, str]) -> list[_Body]:
        plain = ctype == "text/plain"
        left = self.text_left if plain else self.html_left
        if left <= 0:
            self.note(f"Text beyond {_MEGABYTE} was ignored")
            return []
        data = self.content(part)
        if plain and b"begin" in data:
            data = self.uuencoded(data)
        if len(data) > left:
            self.note(f"A text part was cut at {_MEGABYTE}")
            data = data[:left]
        if plain:
            self.text_left -= len(data)
        else:
            self.html_left -= len(data)
        with self.budget.stage(CHARSET_DECODING):
            text, problem = decode_text(data, params.get("charset"))
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        self.note(problem)
        if not plain:
            return [_Body(html=text)]
        if params.get("format", "").lower() == "flowed":
            text = unflow(text, delsp=params.get("delsp", "").lower() == "yes")
        return [_Body(plain=text)]

    def uuencoded(self, data: bytes) -> bytes:
        """A text part's bytes without the files uuencoded into it, which become files."""
        with self.budget.stage(UUDECODING):
            found = uuencoded.extract(data, max_files=max(0, MAX_PARTS - self.parts))
        for problem in found.problems:
            self.note(problem)
        for file in found.files:
            self.parts += 1
            self.add_file(file.filename, "application/octet-stream", file.content)
        return found.text

    def add_file(self, filename: str, ctype: str, content: bytes, content_id: str | None = None) -> None:
        name = single_line(filename, 255) or default_name(ctype, len(self.drafts) + 1)
        self.drafts.append(_Draft(name, ctype, content, content_id))

    def assemble(self, bodies: list[_Body]) -> tuple[str, str | None, int]:
        """(text, sanitised html or None, remote images removed) of the body parts in order."""
        texts: list[str] = []
        htmls: list[str] = []
        blocked = 0
        for body in bodies:
            clean = None
            if body.html is not None and not self.budget.over:
                with self.budget.stage(HTML_SANITISING):
                    clean, removed = sanitise_html(body.html, remote_images=self.remote_images)
                blocked += removed
                htmls.append(clean)
            elif body.plain is not None:
                htmls.append(f"<pre>{html_lib.escape(body.plain)}</pre>")
            if body.plain is not None:
                texts.append(body.plain)
            elif clean is not None and not self.budget.over:
                with self.budget.stage(HTML_TO_TEXT):
                    texts.append(html_to_text(clean[:MAX_BODY]))
        text = self.cut(scrub("\n\n".join(t.strip("\n") for t in texts if t.strip())))
        has_html = any(body.html is not None for body in bodies)
        return text, scrub("\n".join(htmls).strip()) if has_html else None, blocked


def _parts(count: int, where: str) -> str:
    return f"1 part {where} was ignored" if count == 1 else f"{count:,} parts {where} were ignored"


def _merge(bodies: list[_Body]) -> _Body:
    """Several body parts (an alternative that is itself mixed) as one."""
    if len(bodies) == 1:
        return bodies[0]
    plain = None
    if bodies and all(body.plain is not None for body in bodies):
        plain = "\n\n".join(body.plain or "" for body in bodies)
    html = None
    if any(body.html is not None for body in bodies):
        html = "\n".join(
            body.html if body.html is not None else f"<pre>{html_lib.escape(body.plain or '')}</pre>"
            for body in bodies
        )
    return _Body(plain, html)


def _ids(values: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(mid for value in values for mid in message_ids(value)))


def _fallback(raw: bytes, error: Exception) -> ParsedMail:
    """What can still be read when reading failed: the headers and the rest as text."""
    problem = f"The mail could not be read ({type(error).__name__}); its text is shown as received"
    try:
        data = bytes(raw[:MAX_RAW_BYTES])
        top = read_header_section(data)
        text = scrub(decode_loose(data[top.body_start : top.body_start + MAX_BODY]).replace("\r\n", "\n"))
        sender = choose_sender(top)
        return ParsedMail(
            message_id=next(iter(message_ids(top.get("message-id") or "")), None),
            from_address=sender.address,
            from_name=sender.name,
            subject=single_line(decode_header_value(top.get("subject") or ""), MAX_SUBJECT),
            text=text,
            reply_text=text.strip(),
            problems=(problem,),
            header_fields=top.fields,
        )
    except Exception:  # even the fallback may meet what broke the reader
        return ParsedMail(problems=(problem,))
