"""Secrets we must be able to read back (a mailbox's IMAP password), sealed at rest.

Fernet (AES-128-CBC + HMAC-SHA256) with a key derived from `TICKETRY_SECRET_KEY` by HKDF, bound to
a purpose so a value sealed for one use cannot be unsealed as another. Changing the secret key
makes sealed values unreadable: admins then enter the passwords again (docs/configuration.md).
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ticketry.core.config import get_settings


class SealBroken(Exception):
    """The value was sealed with another secret key (or altered)."""


def _fernet(purpose: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"ticketry:{purpose}".encode()).derive(
        get_settings().secret_key.encode()
    )
    return Fernet(base64.urlsafe_b64encode(key))


def seal(purpose: str, plaintext: str) -> str:
    return _fernet(purpose).encrypt(plaintext.encode()).decode("ascii")


def unseal(purpose: str, sealed: str) -> str:
    try:
        return _fernet(purpose).decrypt(sealed.encode("ascii")).decode()
    except (InvalidToken, ValueError) as error:
        raise SealBroken("The stored secret cannot be read with the current secret key.") from error
