"""Our own Message-IDs and reply addresses, signed so that mail coming back can be trusted to
name the ticket it says (HMAC-SHA256 over the ids with the secret key, truncated to 80 bits).

`<ticketry.t42.m7.3f0c…@help.example.com>` names ticket 42 and message 7 (`m0` for mail not about
one message); `support+t42.u7.9b1d…@help.example.com` is ticket 42's reply address as given to
user 7 (per ticket *and* per recipient, so a reply to it says which of our mails it answers, and
for whom that address was written). `support+t42.9b1d…` (no user) is the older per-ticket form:
it still threads, but names no recipient.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from email.utils import parseaddr

_SIGNATURE_HEX = 20
_MESSAGE_ID = re.compile(r"^<?ticketry\.t(\d{1,10})\.m(\d{1,10})\.([0-9a-f]{20})\.[0-9a-z]{8}@([^>\s]+)>?$")
_REPLY_TAG = re.compile(r"^t(\d{1,10})\.(?:u(\d{1,10})\.)?([0-9a-f]{20})$")


def _sign(secret: str, *parts: object) -> str:
    message = ":".join(str(part) for part in parts).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:_SIGNATURE_HEX]


def domain_of(address: str) -> str:
    """`Support <help@example.com>` → `example.com`."""
    _, email = parseaddr(address)
    return email.rpartition("@")[2].lower() or "localhost"


def message_id(secret: str, domain: str, *, ticket_id: int, message_id: int = 0) -> str:
    """A fresh Message-ID naming the ticket (and message), signed; unique per call."""
    signature = _sign(secret, "msgid", ticket_id, message_id)
    return f"<ticketry.t{ticket_id}.m{message_id}.{signature}.{secrets.token_hex(4)}@{domain}>"


def plain_message_id(domain: str) -> str:
    """A Message-ID for mail about no ticket (account mail)."""
    return f"<ticketry.{secrets.token_hex(12)}@{domain}>"


def ticket_in_message_id(secret: str, value: str) -> tuple[int, int] | None:
    """(ticket id, message id) from one of our Message-IDs, only if its signature is right."""
    match = _MESSAGE_ID.match(value.strip())
    if not match:
        return None
    ticket_id, msg_id, signature = int(match[1]), int(match[2]), match[3]
    if not hmac.compare_digest(signature, _sign(secret, "msgid", ticket_id, msg_id)):
        return None
    return ticket_id, msg_id


def reply_address(secret: str, mail_from: str, *, ticket_id: int, user_id: int | None = None) -> str:
    """`support+t42.u7.<signature>@domain` from the configured From address: the address a
    mail to user 7 about ticket 42 asks them to reply to (`user_id=None`: the per-ticket form)."""
    _, email = parseaddr(mail_from)
    local, _, domain = email.partition("@")
    if user_id is None:
        return f"{local}+t{ticket_id}.{_sign(secret, 'reply', ticket_id)}@{domain}"
    return f"{local}+t{ticket_id}.u{user_id}.{_sign(secret, 'reply', ticket_id, user_id)}@{domain}"


@dataclass(frozen=True)
class ReplyTag:
    """What a signed reply address names: the ticket, and the user it was written for (None for
    the older per-ticket form)."""

    ticket_id: int
    user_id: int | None


def reply_tag(secret: str, address: str) -> ReplyTag | None:
    """The ticket (and recipient) a `local+tag@domain` address names, only if its signature is
    right."""
    _, email = parseaddr(address)
    local = email.partition("@")[0]
    tag = local.partition("+")[2]
    match = _REPLY_TAG.match(tag.lower())
    if not match:
        return None
    ticket_id = int(match[1])
    user_id = int(match[2]) if match[2] is not None else None
    parts: tuple[object, ...] = (ticket_id,) if user_id is None else (ticket_id, user_id)
    if not hmac.compare_digest(match[3], _sign(secret, "reply", *parts)):
        return None
    return ReplyTag(ticket_id, user_id)


def ticket_in_reply_address(secret: str, address: str) -> int | None:
    """The ticket a signed reply address names (either form), only if its signature is right."""
    tag = reply_tag(secret, address)
    return tag.ticket_id if tag is not None else None
