"""A real IMAP server for the inbound mail tests: Debian's Dovecot (package dovecot-imapd), started
once per test session from a temporary config on 127.0.0.1, never the package's own service.

`dovecot` listens in plain text with STARTTLS and with implicit TLS, on a certificate signed by
a CA made at start (`ca_file`); `dovecot_plain_only` has no TLS at all, to prove that STARTTLS
is never given up for plain text. `imap_user` is a fresh user with an empty mailbox on
`dovecot`, so that tests never see each other's mail; `add_user()` makes more.

Dovecot runs "rootless": as the user running the tests, or as `nobody` when that is root (its
login processes refuse to run as root). Everything, sockets and state included, lives in one
temporary directory that the session removes. Import the fixtures where they are used
(tests/mail/conftest.py does).
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import grp
import imaplib
import ipaddress
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.servers import free_port
from ticketry.mailparse.imap import ImapAccount, ImapSecurity
from ticketry.mailparse.imapwire import quote_folder

DOVECOT = Path("/usr/sbin/dovecot")
DOVECOT_START_SECONDS = 30
HOST = "127.0.0.1"
APPENDUID = re.compile(rb"\[APPENDUID \d+ (\d+)\]")
LIST_LINE = re.compile(rb'\((?P<attributes>[^)]*)\) (?:"(?:[^"\\]|\\.)*"|NIL) (?P<name>.*)')


@dataclass(frozen=True)
class ImapUser:
    name: str
    password: str


@dataclass
class Dovecot:
    root: Path
    port: int  # plain text; offers STARTTLS unless started without TLS
    tls_port: int | None  # implicit TLS; None without TLS
    ca_file: str | None  # the CA that signed the server's certificate
    uid: int
    gid: int
    host: str = HOST

    @property
    def log(self) -> Path:
        return self.root / "dovecot.log"

    def add_user(self, name: str | None = None, password: str | None = None) -> ImapUser:
        """A new user with an empty mailbox, at once: each user has a passwd-file of its own, as
        Dovecot re-reads a changed passwd-file at most once a second."""
        user = ImapUser(name or f"user-{secrets.token_hex(6)}", password or secrets.token_hex(12))
        assert re.fullmatch(r"[\w.-]+", user.name), user.name
        assert ":" not in user.password and "\n" not in user.password
        home = self.root / "home" / user.name
        line = f"{user.name}:{{PLAIN}}{user.password}:{self.uid}:{self.gid}::{home}::\n"
        (self.root / "users" / user.name).write_text(line, encoding="utf-8")
        return user

    def account(
        self, user: ImapUser, security: ImapSecurity = ImapSecurity.TLS, **changes: Any
    ) -> ImapAccount:
        """Settings that reach this server as `user`: the port that fits `security`, our CA."""
        port = self.tls_port if security == ImapSecurity.TLS else self.port
        assert port is not None, "this Dovecot has no TLS port"
        account = ImapAccount(
            host=self.host,
            port=port,
            security=security,
            username=user.name,
            password=user.password,
            timeout_seconds=10.0,
            ca_file=self.ca_file,
        )
        return dataclasses.replace(account, **changes)

    # --- looking into mailboxes as the user would, over plain-text IMAP -----------------------------

    @contextmanager
    def session(self, user: ImapUser) -> Iterator[imaplib.IMAP4]:
        client = imaplib.IMAP4(self.host, self.port, timeout=10)
        try:
            client.login(user.name, user.password)
            yield client
        finally:
            client.logout()

    def append(self, user: ImapUser, raw: bytes, folder: str = "INBOX", flags: Iterable[str] = ()) -> int:
        """Store a message (the folder is created if missing); return its UID."""
        return self.append_many(user, [raw], folder, flags)[0]

    def append_many(
        self, user: ImapUser, messages: Iterable[bytes], folder: str = "INBOX", flags: Iterable[str] = ()
    ) -> list[int]:
        name, flag_list = quote_folder(folder), "(" + " ".join(flags) + ")"
        uids = []
        with self.session(user) as client:
            if folder.upper() != "INBOX":
                client.create(name)  # NO [ALREADYEXISTS] when it does
            for raw in messages:
                kind, data = client.append(name, flag_list, None, raw)
                assert kind == "OK", data
                found = APPENDUID.search(data[-1])
                assert found, data
                uids.append(int(found[1]))
        return uids

    def uids(self, user: ImapUser, folder: str = "INBOX") -> list[int]:
        with self.session(user) as client:
            assert client.select(quote_folder(folder), readonly=True)[0] == "OK", folder
            _, data = client.uid("SEARCH", "ALL")
        return sorted(int(uid) for line in data if line for uid in line.split())

    def flags(self, user: ImapUser, folder: str, uid: int) -> set[str]:
        with self.session(user) as client:
            assert client.select(quote_folder(folder), readonly=True)[0] == "OK", folder
            _, data = client.uid("FETCH", str(uid), "(FLAGS)")
        found = re.search(rb"FLAGS \(([^)]*)\)", b" ".join(item for item in data if isinstance(item, bytes)))
        assert found, f"UID {uid} is not in {folder}: {data}"
        return set(found[1].decode().split())

    def folders(self, user: ImapUser) -> list[str]:
        """Every folder's name, decoded from modified UTF-7."""
        with self.session(user) as client:
            _, data = client.list()
        names = []
        for item in data:
            if isinstance(item, tuple):  # a name sent as a literal
                names.append(item[1].decode())
                continue
            matched = LIST_LINE.match(item or b"")
            assert matched, item
            name = matched["name"].decode()
            names.append(re.sub(r"\\(.)", r"\1", name[1:-1]) if name.startswith('"') else name)
        return sorted(decode_folder(name) for name in names)

    # --- the server's log ----------------------------------------------------------------------------

    def log_mark(self) -> int:
        """Where the log ends now; pass it to `wait_for_log` to read only what follows."""
        return self.log.stat().st_size if self.log.exists() else 0

    def log_since(self, mark: int) -> str:
        with self.log.open("rb") as log:
            log.seek(mark)
            return log.read().decode(errors="replace")

    def wait_for_log(self, text: str, since: int = 0, seconds: float = 5) -> str:
        """The log after `since` once it contains `text` (Dovecot logs through its own process)."""
        deadline = time.monotonic() + seconds
        while True:
            written = self.log_since(since)
            if text in written:
                return written
            if time.monotonic() > deadline:
                pytest.fail(f"Dovecot did not log {text!r} within {seconds} s; it logged:\n{written[-3000:]}")
            time.sleep(0.02)


def decode_folder(name: str) -> str:
    """Modified UTF-7 (RFC 3501 §5.1.3) to text, written apart from the client's encoder."""

    def shifted(match: re.Match[str]) -> str:
        if not match[1]:
            return "&"
        data = match[1].replace(",", "/")
        return base64.b64decode(data + "=" * (-len(data) % 4)).decode("utf-16-be")

    return re.sub(r"&([^-]*)-", shifted, name)


# --- certificates --------------------------------------------------------------------------------


def _certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a server certificate it signed for 127.0.0.1 and localhost: (ca, cert, key)."""
    now = dt.datetime.now(dt.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Ticketry test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(HOST)), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


# --- the server ----------------------------------------------------------------------------------


def _config(root: Path, *, port: int, tls_port: int, tls: bool, uid: int, gid: int) -> Path:
    user, group = pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name
    tls_settings = (
        f"ssl = yes\nssl_cert = <{root / 'cert.pem'}\nssl_key = <{root / 'key.pem'}\n"
        if tls
        else "ssl = no\n"
    )
    config = root / "dovecot.conf"
    config.write_text(
        f"""\
protocols = imap
listen = {HOST}
base_dir = {root / "run"}
state_dir = {root / "state"}
log_path = {root / "dovecot.log"}
# Rootless: every process runs as the one user that started Dovecot.
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
first_valid_uid = {uid}
first_valid_gid = {gid}
{tls_settings}
auth_mechanisms = plain login
disable_plaintext_auth = no
auth_failure_delay = 0
auth_verbose = yes
passdb {{
  driver = passwd-file
  args = {root / "users"}/%u
}}
userdb {{
  driver = passwd-file
  args = {root / "users"}/%u
}}
mail_location = maildir:~/Maildir
mail_fsync = never
# chroot needs root; the login process would chroot by default. No growing delay after failed
# logins from one IP (the wrong-password tests would wait up to 15 s each).
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {tls_port}
    ssl = yes
  }}
}}
"""
    )
    return config


def _answers(port: int, context: ssl.SSLContext | None) -> bool:
    """Whether an IMAP greeting comes on `port` (through TLS when a context is given)."""
    try:
        with socket.create_connection((HOST, port), timeout=2) as plain:
            sock = context.wrap_socket(plain, server_hostname=HOST) if context else plain
            return sock.recv(100).startswith(b"* OK")
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the master and every process it started (they share its process group)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=10)
            return
        except subprocess.TimeoutExpired:
            continue


def _start(root: Path, *, tls: bool, uid: int, gid: int) -> tuple[subprocess.Popen[bytes], int, int] | str:
    """A running Dovecot and its (plain, TLS) ports, or why it did not start."""
    port, tls_port = free_port(), free_port() if tls else 0
    config = _config(root, port=port, tls_port=tls_port, tls=tls, uid=uid, gid=gid)
    drop = os.geteuid() == 0
    with (root / "dovecot.out").open("ab") as output:
        process = subprocess.Popen(  # noqa: S603 - a fixed binary and our own config
            [str(DOVECOT), "-F", "-c", str(config)],
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=uid if drop else None,
            group=gid if drop else None,
            extra_groups=[] if drop else None,
        )
    context = ssl.create_default_context(cafile=root / "ca.pem") if tls else None
    deadline = time.monotonic() + DOVECOT_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"Dovecot exited with {process.returncode}"
        if _answers(port, None) and (not tls or _answers(tls_port, context)):
            return process, port, tls_port
        time.sleep(0.02)
    _stop(process)
    return f"Dovecot did not greet on its ports within {DOVECOT_START_SECONDS} s"


def _run_as() -> tuple[int, int]:
    """Who Dovecot runs as: us, or `nobody` when we are root."""
    if os.geteuid() != 0:
        return os.getuid(), os.getgid()
    nobody = pwd.getpwnam("nobody")
    return nobody.pw_uid, nobody.pw_gid


def _dovecot(tls: bool) -> Iterator[Dovecot]:
    if not DOVECOT.exists():
        reason = f"{DOVECOT} is missing: install Debian's dovecot-imapd (CI does, see .ci/run)"
        if os.environ.get("TICKETRY_TEST_ALLOW_SKIP"):
            pytest.skip(reason)
        pytest.fail(f"{reason}; set TICKETRY_TEST_ALLOW_SKIP=1 to skip these tests instead")
    uid, gid = _run_as()
    # Not under pytest's tmp_path: that is private to us (0700) and its paths are too long for
    # Dovecot's Unix sockets.
    root = Path(tempfile.mkdtemp(prefix="ticketry-dovecot-"))
    try:
        if tls:
            _certificates(root)
        (root / "users").mkdir()
        for path in (root, *root.iterdir()):
            os.chown(path, uid, gid)
        started: tuple[subprocess.Popen[bytes], int, int] | str = ""
        for _ in range(3):  # another process may take a free port before Dovecot binds it
            started = _start(root, tls=tls, uid=uid, gid=gid)
            if not isinstance(started, str):
                break
        if isinstance(started, str):
            logs = "".join(
                path.read_text(errors="replace")[-3000:]
                for path in (root / "dovecot.out", root / "dovecot.log")
                if path.exists()
            )
            pytest.fail(f"{started}; its output:\n{logs}")
        process, port, tls_port = started
        try:
            yield Dovecot(
                root=root,
                port=port,
                tls_port=tls_port if tls else None,
                ca_file=str(root / "ca.pem") if tls else None,
                uid=uid,
                gid=gid,
            )
        finally:
            _stop(process)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def running_dovecot(*, tls: bool = True) -> Iterator[Dovecot]:
    """The same server outside pytest (bench/mail.py): started on entry, stopped and removed on exit."""
    yield from _dovecot(tls)


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """Dovecot with STARTTLS on its plain port and an implicit-TLS port."""
    yield from _dovecot(tls=True)


@pytest.fixture(scope="session")
def dovecot_plain_only() -> Iterator[Dovecot]:
    """Dovecot without any TLS: it does not offer STARTTLS."""
    yield from _dovecot(tls=False)


@pytest.fixture
def imap_user(dovecot: Dovecot) -> ImapUser:
    """A fresh user with an empty mailbox on `dovecot`."""
    return dovecot.add_user()
