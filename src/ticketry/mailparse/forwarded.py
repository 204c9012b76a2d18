"""Forwarded mails (`message/rfc822` parts: a forward as attachment, Outlook's included) shown
the way mail clients show them: the forwarded mail's sender, date and subject, then its text, as
a quoted block after the text of the mail that forwards it. Pure; used by `parse`, which reads
the forwarded mail's parts exactly as it reads the mail's own (charset decoding, HTML sanitising,
HTML to text), keeps its attachments as files and the whole forwarded mail as an `.eml` file.
"""

from __future__ import annotations

import html as html_lib
from dataclasses import dataclass
from datetime import datetime

from ticketry.mailparse.addresses import parse_addresses
from ticketry.mailparse.decode import HeaderSection, decode_header_value, parse_date, single_line

MAX_FORWARD_DEPTH = 3  # forwards inside forwards opened; deeper ones stay inside their .eml
MAX_FORWARDS = 20  # forwarded mails shown per mail; the rest are kept as .eml files only
TITLE = "---------- Forwarded message ----------"


@dataclass(frozen=True)
class Forward:
    sender: str  # "Name <address>", the address, or the From header as written; "" if none
    date: str  # "Thu, 07 Mar 2024 07:58 UTC", the Date header as written if unreadable; ""
    subject: str
    text: str  # its text, its own forwards quoted in it
    html: str | None  # sanitised, its own forwards quoted in it; None if it has no HTML

    @classmethod
    def of(cls, headers: HeaderSection, text: str, html: str | None) -> Forward:
        raw_from = headers.get("from") or ""
        found = parse_addresses(raw_from)
        if found:
            name, address = found[0]
            sender = f"{name} <{address}>" if name else address
        else:
            sender = single_line(decode_header_value(raw_from), 300)
        raw_date = headers.get("date") or ""
        date = parse_date(raw_date)
        return cls(
            sender=sender,
            date=_shown_date(date) if date is not None else single_line(raw_date, 100),
            subject=single_line(decode_header_value(headers.get("subject") or ""), 500),
            text=text,
            html=html,
        )

    def header_lines(self) -> list[str]:
        lines = [TITLE]
        for label, value in (("From", self.sender), ("Date", self.date), ("Subject", self.subject)):
            if value:
                lines.append(f"{label}: {value}")
        return lines

    def quoted_text(self) -> str:
        """The forward as a quoted block of plain text."""
        lines = [*self.header_lines(), "", *self.text.strip("\n").split("\n")]
        return "\n".join(f"> {line}".rstrip() for line in lines)

    def quoted_html(self) -> str:
        """The forward as a quoted block of HTML: the header lines escaped, then its sanitised HTML
        (or its text, escaped)."""
        head = "<br>".join(html_lib.escape(line) for line in self.header_lines())
        body = self.html if self.html is not None else f"<pre>{html_lib.escape(self.text)}</pre>"
        return f"<blockquote><p>{head}</p>{body}</blockquote>"


def _shown_date(date: datetime) -> str:
    return date.strftime("%a, %d %b %Y %H:%M UTC")


def with_forwards(text: str, forwards: list[Forward]) -> str:
    """A text followed by its forwards, each quoted."""
    blocks = [text.strip("\n")] if text.strip() else []
    blocks.extend(forward.quoted_text() for forward in forwards)
    return "\n\n".join(blocks)


def html_with_forwards(html: str, forwards: list[Forward]) -> str:
    return "\n".join([html, *(forward.quoted_html() for forward in forwards)])
