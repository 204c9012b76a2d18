"""Handing a finished mail to the SMTP server. TLS is never silently dropped: `starttls` fails
when the server does not offer it."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from ticketry.core.config import Settings


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: str  # starttls | tls | none
    username: str
    password: str
    timeout: float

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpServer | None:
        if not settings.smtp_host:
            return None
        return cls(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_security,
            settings.smtp_username,
            settings.smtp_password,
            settings.smtp_timeout_seconds,
        )

    def connect(self) -> smtplib.SMTP:
        """A connection that has greeted the server (and logged in): each `sendmail` on it is
        one mail; `quit()` it when done. Raises `smtplib.SMTPException` or `OSError`."""
        context = _tls_context() if self.security != "none" else None
        client: smtplib.SMTP
        if self.security == "tls":
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            client.ehlo()
            if self.security == "starttls":
                client.starttls(context=context)  # raises SMTPNotSupportedError if not offered
                client.ehlo()
            if self.username:
                client.login(self.username, self.password)
        except BaseException:
            client.close()
            raise
        return client

    def send(self, raw: bytes, sender: str, recipients: Sequence[str]) -> dict[str, tuple[int, bytes]]:
        """Deliver, and return the recipients the server refused while accepting others; raise
        (`smtplib.SMTPException`, `OSError`) when nothing was accepted, to be retried later."""
        with self.connect() as client:
            return client.sendmail(sender, list(recipients), raw)


@lru_cache(maxsize=1)
def _tls_context() -> ssl.SSLContext:
    """One per process: building it (loading the system's CA certificates) costs more than the
    rest of a delivery."""
    return ssl.create_default_context()
