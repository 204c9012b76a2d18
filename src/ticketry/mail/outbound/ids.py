"""Our own Message-IDs and reply addresses, signed so that mail coming back can be trusted to
name the ticket it says (HMAC-SHA256 over the ids with the secret key, truncated to 80 bits).

`<ticketry.t42.m7.3f0c…@help.example.com>` names ticket 42 and message 7 (`m0` for mail not about
one message); `support+t42.9b1d…@help.example.com` is ticket 42's reply address.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from email.utils import parseaddr

_SIGNATURE_HEX = 20
_MESSAGE_ID = re.compile(r"^<?ticketry\.t(\d{1,10})\.m(\d{1,10})\.([0-9a-f]{20})\.[0-9a-z]{8}@([^>\s]+)>?$")
_REPLY_TAG = re.compile(r"^t(\d{1,10})\.([0-9a-f]{20})$")


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


def reply_address(secret: str, mail_from: str, *, ticket_id: int) -> str:
    """`support+t42.<signature>@domain` from the configured From address."""
    _, email = parseaddr(mail_from)
    local, _, domain = email.partition("@")
    return f"{local}+t{ticket_id}.{_sign(secret, 'reply', ticket_id)}@{domain}"


def ticket_in_reply_address(secret: str, address: str) -> int | None:
    """The ticket a `local+tag@domain` address names, only if its signature is right."""
    _, email = parseaddr(address)
    local = email.partition("@")[0]
    tag = local.partition("+")[2]
    match = _REPLY_TAG.match(tag.lower())
    if not match:
        return None
    ticket_id = int(match[1])
    if not hmac.compare_digest(match[2], _sign(secret, "reply", ticket_id)):
        return None
    return ticket_id
