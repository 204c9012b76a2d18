"""Building a mail: text and HTML alternatives, threading headers, and no way for a name, an
address or a subject to smuggle in a header (every value is stripped of CR/LF and control
characters, and addresses go through `email.headerregistry.Address`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, parseaddr

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


class InvalidAddress(ValueError):
    """Not an address we can send to."""


def clean(value: str, *, limit: int = 500) -> str:
    """One line of header text: control characters (CR, LF, …) become spaces."""
    return " ".join(_CONTROL.sub(" ", value).split())[:limit]


def address(email: str, name: str = "") -> Address:
    email = clean(email, limit=320)
    local, at, domain = email.rpartition("@")
    if not at or not local or not domain or any(ch in email for ch in ' <>,;:"\\()[]'):
        raise InvalidAddress(f"not a deliverable address: {email!r}")
    return Address(display_name=clean(name, limit=200), username=local, domain=domain)


def parse_from(value: str) -> Address:
    """`TICKETRY_MAIL_FROM` (`Name <addr>`) as an Address."""
    name, email = parseaddr(value)
    return address(email, name)


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
    """A multipart/alternative message (text first, HTML preferred by clients that show it)."""
    mail = EmailMessage(policy=SMTP)
    mail["From"] = sender
    mail["To"] = list(to)
    mail["Subject"] = clean(subject, limit=250)
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = message_id
    if reply_to is not None:
        mail["Reply-To"] = reply_to
    # Message-IDs may come from mail we received: no line break or control character survives.
    if in_reply_to and clean(in_reply_to, limit=998):
        mail["In-Reply-To"] = "".join(clean(in_reply_to, limit=998).split())
    ids = ["".join(clean(value, limit=998).split()) for value in references]
    if any(ids):
        mail["References"] = " ".join(value for value in ids if value)
    if automatic:
        # RFC 3834: a well-behaved auto-responder never answers this mail; Exchange neither.
        mail["Auto-Submitted"] = "auto-replied"
        mail["X-Auto-Response-Suppress"] = "All"
    mail.set_content(text)
    if html is not None:
        mail.add_alternative(html, subtype="html")
    return mail
