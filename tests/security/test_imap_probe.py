"""The admin's IMAP "test connection" is no port scanner and no banner oracle (issue 12 item 13).

The attack class is server-side request forgery used for reconnaissance (CWE-918) with
information exposure through an error message (CWE-209): whoever holds an admin session (or
tricks an admin's browser into the test) points a mailbox at an internal host and port and
reads, in the test's answer or in the mailbox's last poll error, what the service there says
(an SMTP or Redis banner with versions and host names, a secret in an error reply). The answer
must be one of a few fixed sentences (cannot connect, TLS failed, not an IMAP server, login
refused, folder missing), whatever the other end wrote; the test must end in a short, fixed
time; and it runs a few times a minute at most. Checked against the real Dovecot the tests start
and against plain TCP listeners that speak something else or imitate IMAP with secrets in every
reply.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.conftest import MakeClient
from tests.factories import make_admin
from tests.imapserver import Dovecot, ImapUser, dovecot, imap_user
from tests.mail_admin import make_mailbox, set_mailbox
from tests.servers import closed_port
from ticketry.core.db import Database
from ticketry.mail.inbound import poller
from ticketry.mail.inbound.models import Mailbox
from ticketry.mailparse import imap
from ticketry.mailparse.imap import ImapSecurity

__all__ = ["dovecot", "imap_user"]

SECRET = "SECRET-7f3a9c-internal.corp"
HOST = "127.0.0.1"
Handler = Callable[[socket.socket], None]


@pytest.fixture(autouse=True)
def fresh_probe_limit() -> Iterator[None]:
    imap.PROBES.clear()
    yield
    imap.PROBES.clear()


@pytest.fixture
def listener() -> Iterator[Callable[[Handler], int]]:
    """Start a TCP server on 127.0.0.1 that runs `handler` for each connection; its port."""
    servers: list[socket.socket] = []

    def start(handler: Handler) -> int:
        server = socket.socket()
        server.bind((HOST, 0))
        server.listen()
        servers.append(server)

        def serve() -> None:
            while True:
                try:
                    connection, _ = server.accept()
                except OSError:
                    return
                threading.Thread(target=_run, args=(handler, connection), daemon=True).start()

        threading.Thread(target=serve, daemon=True).start()
        port: int = server.getsockname()[1]
        return port

    yield start
    for server in servers:
        server.close()


def _run(handler: Handler, connection: socket.socket) -> None:
    with connection, contextlib.suppress(OSError):
        handler(connection)


def smtp_like(connection: socket.socket) -> None:
    """An internal mail relay: its banner and every reply name internal things."""
    connection.sendall(f"220 mx1.internal.corp ESMTP Postfix {SECRET}\r\n".encode())
    with connection.makefile("rb") as lines:
        for _ in lines:
            connection.sendall(f"502 5.5.2 Error: command not recognized {SECRET}\r\n".encode())


def imap_lookalike(*, login_ok: bool, select_reply: bytes = b"") -> Handler:
    """Answers like IMAP, with the secret in the greeting and in every reply."""

    def handle(connection: socket.socket) -> None:
        connection.sendall(f"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] {SECRET} ready\r\n".encode())
        with connection.makefile("rb") as lines:
            for line in lines:
                tag, command = ([*line.split(), b"", b""])[:2]
                verb = command.upper()
                if verb == b"LOGIN":
                    result = b" OK [CAPABILITY IMAP4rev1] " if login_ok else b" NO [AUTHENTICATIONFAILED] "
                    reply = tag + result + SECRET.encode() + b"\r\n"
                elif verb == b"SELECT" and select_reply:
                    reply = select_reply.replace(b"TAG", tag)
                elif verb == b"CAPABILITY":
                    reply = (
                        b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK " + SECRET.encode() + b"\r\n"
                    )
                elif verb == b"LOGOUT":
                    connection.sendall(b"* BYE " + SECRET.encode() + b"\r\n" + tag + b" OK bye\r\n")
                    return
                else:
                    reply = tag + b" NO " + SECRET.encode() + b"\r\n"
                connection.sendall(reply)

    return handle


def connection_test(client: TestClient, admin_headers: dict[str, str], mailbox_id: int) -> dict[str, object]:
    response = client.post(f"/api/v1/mailboxes/{mailbox_id}/test", headers=admin_headers)
    assert response.status_code == 200, response.text
    assert SECRET not in response.text
    answer: dict[str, object] = response.json()
    return answer


class TestOtherServices:
    @pytest.mark.parametrize("security", [ImapSecurity.NONE, ImapSecurity.STARTTLS])
    def test_an_smtp_banner_is_never_shown(
        self,
        client: TestClient,
        db: Database,
        listener: Callable[[Handler], int],
        security: ImapSecurity,
    ) -> None:
        """CWE-918/CWE-209: a mailbox pointed at an internal SMTP relay says "not an IMAP server",
        not the relay's banner."""
        admin = make_admin(db)
        port = listener(smtp_like)
        mailbox_id = make_mailbox(db, admin, imap_host=HOST, imap_port=port, imap_security=security)

        answer = connection_test(client, admin.headers, mailbox_id)

        assert answer == {"ok": False, "message": f"{HOST}:{port} does not answer as an IMAP server."}

    def test_tls_to_a_plain_service_says_tls_failed(
        self, client: TestClient, db: Database, listener: Callable[[Handler], int]
    ) -> None:
        admin = make_admin(db)
        port = listener(smtp_like)
        mailbox_id = make_mailbox(db, admin, imap_host=HOST, imap_port=port, imap_security=ImapSecurity.TLS)

        answer = connection_test(client, admin.headers, mailbox_id)

        assert answer["ok"] is False
        assert str(answer["message"]).startswith(f"TLS with {HOST}:{port} failed: the port may not be")

    @pytest.mark.parametrize(
        ("login_ok", "select_reply", "expected"),
        [
            (False, b"", imap.LOGIN_REFUSED),
            (True, b"", "The folder 'INBOX' does not exist or cannot be opened."),
            (
                True,
                b"* " + SECRET.encode() + b" EXISTS\r\nTAG OK [READ-WRITE] done\r\n",
                "The folder 'INBOX' does not exist or cannot be opened.",
            ),
        ],
        ids=["login", "select", "garbled select"],
    )
    def test_an_imap_lookalike_with_secrets_in_every_reply(
        self,
        client: TestClient,
        db: Database,
        listener: Callable[[Handler], int],
        login_ok: bool,
        select_reply: bytes,
        expected: str,
    ) -> None:
        """CWE-209: NO/BAD texts, greetings and untagged data are never passed on."""
        admin = make_admin(db)
        port = listener(imap_lookalike(login_ok=login_ok, select_reply=select_reply))
        mailbox_id = make_mailbox(db, admin, imap_host=HOST, imap_port=port, imap_security=ImapSecurity.NONE)

        answer = connection_test(client, admin.headers, mailbox_id)

        assert answer == {"ok": False, "message": expected}

    def test_the_poll_error_shown_to_admins_has_no_banner_either(
        self, db: Database, listener: Callable[[Handler], int]
    ) -> None:
        """CWE-209: the mailbox's last poll error is the same oracle, so it is as mute."""
        admin = make_admin(db)
        for handler in (smtp_like, imap_lookalike(login_ok=False), imap_lookalike(login_ok=True)):
            port = listener(handler)
            mailbox_id = make_mailbox(
                db, admin, imap_host=HOST, imap_port=port, imap_security=ImapSecurity.NONE
            )

            poller.poll(db, mailbox_id)

            with db.unit_of_work(write=False) as session:
                error = session.scalar(select(Mailbox.last_error).where(Mailbox.id == mailbox_id))
            assert error
            assert SECRET not in error

    def test_a_server_that_drips_its_greeting_is_given_up_on_in_time(
        self,
        client: TestClient,
        db: Database,
        listener: Callable[[Handler], int],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """CWE-400: a per-read timeout never ends a greeting sent one byte at a time; the test
        has one deadline for everything."""
        monkeypatch.setattr(imap, "PROBE_SECONDS", 1.0)

        def drip(connection: socket.socket) -> None:
            for byte in f"* OK {SECRET}".encode() * 100:
                connection.sendall(bytes([byte]))
                time.sleep(0.1)

        admin = make_admin(db)
        port = listener(drip)
        mailbox_id = make_mailbox(db, admin, imap_host=HOST, imap_port=port, imap_security=ImapSecurity.NONE)

        started = time.monotonic()
        answer = connection_test(client, admin.headers, mailbox_id)

        assert time.monotonic() - started < 5
        assert answer == {"ok": False, "message": f"{HOST}:{port} does not answer as an IMAP server."}

    def test_the_test_runs_a_few_times_a_minute_at_most(self, client: TestClient, db: Database) -> None:
        """CWE-918: scanning ports through the test takes minutes per handful of ports."""
        admin, other = make_admin(db), make_admin(db)
        answers = []
        for _ in range(imap.PROBES_PER_MINUTE):
            mailbox_id = make_mailbox(db, admin, imap_host=HOST, imap_port=closed_port())
            answers.append(connection_test(client, admin.headers, mailbox_id)["message"])
        mailbox_id = make_mailbox(db, admin, imap_host=HOST, imap_port=closed_port())

        refused = client.post(f"/api/v1/mailboxes/{mailbox_id}/test", headers=admin.headers)

        assert all(str(message).startswith("Could not connect to") for message in answers)
        assert refused.status_code == 429
        assert refused.json()["error"]["message"] == imap.TOO_MANY_PROBES
        assert refused.headers["Retry-After"] == "60"
        assert connection_test(client, other.headers, mailbox_id)["ok"] is False  # another admin may


class TestRealServer:
    def test_dovecot_answers_in_fixed_sentences(
        self, make_client: MakeClient, db: Database, dovecot: Dovecot, imap_user: ImapUser
    ) -> None:
        assert dovecot.tls_port is not None
        client = make_client(mail_ca_file=dovecot.ca_file)
        admin = make_admin(db)

        def mailbox(**fields: object) -> int:
            values: dict[str, object] = {
                "imap_host": dovecot.host,
                "imap_port": dovecot.tls_port,
                "imap_username": imap_user.name,
                "imap_password": imap_user.password,
            }
            values.update(fields)
            return make_mailbox(db, admin, **values)  # type: ignore[arg-type]

        good, wrong = mailbox(), mailbox(imap_password="wrong-password")
        missing = mailbox()
        set_mailbox(db, missing, imap_folder="Nope")
        plain_port_as_tls = mailbox(imap_port=dovecot.port)

        assert connection_test(client, admin.headers, good) == {
            "ok": True,
            "message": "Connected; 0 messages in INBOX.",
        }
        assert connection_test(client, admin.headers, wrong) == {"ok": False, "message": imap.LOGIN_REFUSED}
        assert connection_test(client, admin.headers, missing) == {
            "ok": False,
            "message": "The folder 'Nope' does not exist or cannot be opened.",
        }
        answer = connection_test(client, admin.headers, plain_port_as_tls)
        assert str(answer["message"]).startswith(f"TLS with {dovecot.host}:{dovecot.port} failed: the port")
        assert "Dovecot" not in str(answer["message"])
