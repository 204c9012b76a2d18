"""A real SMTP server for the mail tests (aiosmtpd on 127.0.0.1, a free port), and the settings
that point the `mail.send` job at it.

`mailserver` collects every message it accepts, parsed with `email.policy.default`. Set
`refusals` to a list of SMTP replies (`"451 4.3.0 Try again later"`) to have the next deliveries
refused in that order. `smtp_down` points the job at a port nobody listens on.
"""

from __future__ import annotations

import email
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from tests.servers import closed_port, free_port
from ticketry.core.config import get_settings


@dataclass
class Received:
    envelope_from: str
    envelope_to: list[str]
    raw: bytes
    message: EmailMessage


@dataclass
class MailServer:
    host: str
    port: int
    messages: list[Received] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # The client's address and port of each mail, refused ones too: one per SMTP connection.
    peers: list[Any] = field(default_factory=list)

    # aiosmtpd handler hook
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        with self.lock:
            self.peers.append(session.peer)
            if self.refusals:
                return self.refusals.pop(0)
            raw = bytes(envelope.original_content or envelope.content)
            parsed = email.message_from_bytes(raw, policy=default)
            assert isinstance(parsed, EmailMessage)
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), raw, parsed))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m.message for m in self.messages if address in m.envelope_to]


def use_smtp(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    monkeypatch.setenv("TICKETRY_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("TICKETRY_SMTP_PORT", str(port))
    monkeypatch.setenv("TICKETRY_SMTP_SECURITY", "none")
    monkeypatch.setenv("TICKETRY_SMTP_TIMEOUT_SECONDS", "5")
    get_settings.cache_clear()


@pytest.fixture
def mailserver(monkeypatch: pytest.MonkeyPatch) -> Iterator[MailServer]:
    """An SMTP server that accepts everything (unless told to refuse); the job delivers to it."""
    server = MailServer("127.0.0.1", free_port())
    controller = Controller(server, hostname=server.host, port=server.port)
    controller.start()
    use_smtp(monkeypatch, server.port)
    try:
        yield server
    finally:
        controller.stop()
        get_settings.cache_clear()


@pytest.fixture
def smtp_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """The configured SMTP server does not answer (connection refused); yields its port."""
    port = closed_port()
    use_smtp(monkeypatch, port)
    yield port
    get_settings.cache_clear()


def start_server_on(port: int) -> tuple[MailServer, Controller]:
    """A server on a given port (the one that was down comes back); stop the controller after."""
    server = MailServer("127.0.0.1", port)
    controller = Controller(server, hostname=server.host, port=port)
    controller.start()
    return server, controller


LINK = re.compile(r"(https?://\S+?\?token=([A-Za-z0-9_\-]+))")


def link_in(message: EmailMessage) -> tuple[str, str]:
    """The (URL, token) of the one link in an account mail's text part."""
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    found = LINK.search(part.get_content())
    assert found, part.get_content()
    return found.group(1), found.group(2)
