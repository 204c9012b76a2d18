"""The IMAP client the poller uses: log in without ever falling back to plain text, select one
folder, list new UIDs, fetch headers and bodies without setting \\Seen, then mark or move what
was ingested. Standard library only (`imaplib`, `ssl`); no database, no web framework.

Every failure is an `ImapError` whose text an admin can act on. It never contains the password,
nor anything the remote server wrote (a greeting, a NO or BAD text, an alert): an admin who
points a mailbox at some other service must not be able to read its banner through the
helpdesk (issue 12 item 13). What the server said goes to the log for the operator; a known
RFC 5530 response code (`[OVERQUOTA]`, `[NOPERM]`, …) may be named, being one of a fixed set.

The admin's "test connection" (`probe`) answers with one of a few fixed sentences (cannot
connect, TLS failed, not an IMAP server, login refused, folder missing), tries only the
mailbox's own host and port, gives up after PROBE_SECONDS in all, and an admin may run it at
most PROBES_PER_MINUTE times a minute (per process), so that it is no port scanner either.
"""

from __future__ import annotations

import enum
import imaplib
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import structlog

from ticketry.mailparse.imapwire import (
    FetchValue,
    UnreadableResponse,
    parse_fetch,
    quote_folder,
    string_of,
    uid_sets,
)

log = structlog.get_logger(__name__)

MAX_UID = 2**32 - 1
PROBE_SECONDS = 10.0  # the whole connection test, connecting to selecting the folder
PROBES_PER_MINUTE = 6
LOGIN_REFUSED = "The server refused the user name or password."
ENCRYPTION_REQUIRED = "The server does not accept a password without encryption; choose TLS or STARTTLS."
TOO_MANY_PROBES = "Too many connection tests; wait a minute and try again."
# The response codes of RFC 3501 and RFC 5530 an error may name: atoms from a fixed list, never
# the server's free text.
RESPONSE_CODES = frozenset(
    {
        "ALERT", "ALREADYEXISTS", "AUTHENTICATIONFAILED", "AUTHORIZATIONFAILED", "CANNOT", "CLIENTBUG",
        "CONTACTADMIN", "CORRUPTION", "EXPIRED", "EXPUNGEISSUED", "INUSE", "LIMIT", "NONEXISTENT",
        "NOPERM", "OVERQUOTA", "PARSE", "PRIVACYREQUIRED", "READ-ONLY", "READ-WRITE", "SERVERBUG",
        "TRYCREATE", "UNAVAILABLE",
    }
)  # fmt: skip


class Failure(enum.StrEnum):
    """What kind of thing went wrong; `probe` answers each with one fixed sentence."""

    CONNECT = "connect"
    TLS = "tls"
    NOT_IMAP = "not_imap"
    LOGIN = "login"
    FOLDER = "folder"
    TIMEOUT = "timeout"  # the server stopped answering after its greeting
    SERVER = "server"  # a refusal of a later command


class ImapSecurity(enum.StrEnum):
    TLS = "tls"  # implicit TLS, usually port 993
    STARTTLS = "starttls"  # upgraded before login; never continued in plain text
    NONE = "none"  # plain text, only when an admin chose it explicitly


@dataclass(frozen=True)
class ImapAccount:
    host: str
    port: int
    security: ImapSecurity
    username: str
    password: str = field(repr=False)
    folder: str = "INBOX"
    timeout_seconds: float = 30.0
    # An extra CA bundle (servers with their own CA), trusted besides the system's. Certificates
    # and host names are always verified.
    ca_file: str | None = None


class ImapError(Exception):
    """A short sentence an admin can act on, without anything the server wrote."""

    def __init__(self, message: str, failure: Failure = Failure.SERVER) -> None:
        super().__init__(message)
        self.failure = failure


@dataclass(frozen=True)
class Envelope:
    """What is fetched before the body."""

    uid: int
    size: int  # RFC822.SIZE
    headers: bytes  # BODY[HEADER], the blank line included


class ImapMailbox:
    """One connection to one folder; a context manager that logs out quietly on exit."""

    def __init__(self, account: ImapAccount, *, deadline_seconds: float | None = None) -> None:
        self.account = account
        self.message_count = 0  # EXISTS when the folder was selected
        self.capabilities: frozenset[str] = frozenset()  # after login
        self._connection: imaplib.IMAP4 | None = None
        # With a deadline, the socket is shut when it passes, whatever the server is doing (a
        # server sending its greeting one byte at a time would outlast any per-read timeout).
        self._deadline = deadline_seconds
        self._socket: socket.socket | None = None
        self._watchdog: threading.Timer | None = None
        self._expired = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def open(self) -> int:
        """Connect, (upgrade,) log in and select the folder read-write; return its UIDVALIDITY."""
        self.close()
        try:
            connection = self._connect()
            self._connection = connection
            self._log_in(connection)
            with self._talking("reading the capabilities"):
                capabilities = _ok(connection.capability(), "CAPABILITY")
            self.capabilities = frozenset(b" ".join(capabilities).decode("ascii", "replace").upper().split())
            return self._select(connection)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Log out; errors are logged, not raised (the work is done or already failed)."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.logout()  # fails at once after a timeout: the socket's file refuses to read
        except (imaplib.IMAP4.error, OSError) as error:
            log.debug("imap.logout_failed", host=self.account.host, error=str(error))
            with suppress(OSError):
                connection.shutdown()

    def uids_after(self, last_uid: int) -> list[int]:
        """The UIDs above `last_uid`, ascending. `n:*` always matches the highest UID, even when
        it is not above n (RFC 3501 §6.4.8), so the answer is filtered."""
        if last_uid >= MAX_UID:
            return []
        with self._talking("searching for new mail"):
            data = _ok(self._client.uid("SEARCH", "UID", f"{last_uid + 1}:*"), "UID SEARCH")
        found = {int(uid) for line in data if line for uid in line.split() if uid.isdigit()}
        return sorted(uid for uid in found if uid > last_uid)

    def envelopes(self, uids: Sequence[int]) -> list[Envelope]:
        """Size and header of each message, ascending by UID; UIDs gone meanwhile are left out."""
        found: dict[int, Envelope] = {}
        for uid_set in uid_sets(uids):
            with self._talking("fetching headers"):
                data = _ok(
                    self._client.uid("FETCH", uid_set, "(UID RFC822.SIZE BODY.PEEK[HEADER])"), "UID FETCH"
                )
            for item in _fetched(data):
                uid, size, headers = item.get("UID"), item.get("RFC822.SIZE"), item.get("BODY[HEADER]")
                if isinstance(uid, bytes) and uid.isdigit() and isinstance(size, bytes) and size.isdigit():
                    found[int(uid)] = Envelope(int(uid), int(size), string_of(headers or b""))
        return [found[uid] for uid in sorted(set(uids)) if uid in found]

    def bodies(self, uids: Sequence[int]) -> Iterator[tuple[int, bytes]]:
        """(uid, raw message) one at a time, ascending; BODY.PEEK never sets \\Seen. A UID that is
        gone meanwhile is skipped."""
        for wanted in sorted(set(uids)):
            with self._talking("fetching a message"):
                data = _ok(self._client.uid("FETCH", str(wanted), "(UID BODY.PEEK[])"), "UID FETCH")
            for item in _fetched(data):
                uid, body = item.get("UID"), item.get("BODY[]")
                if uid == str(wanted).encode() and body is not None:
                    yield wanted, string_of(body)
                    break

    def mark_seen(self, uids: Sequence[int]) -> None:
        self._store(uids, r"(\Seen)")

    def move(self, uids: Sequence[int], folder: str) -> None:
        """Move to `folder`, creating it if missing: UID MOVE (RFC 6851) where the server has it,
        else copy, flag \\Deleted and expunge those UIDs (UIDPLUS); a server without UIDPLUS
        gets a plain EXPUNGE, which also removes what others had flagged \\Deleted, as their
        own client's next expunge would."""
        if _folder_key(folder) == _folder_key(self.account.folder):
            raise ImapError("Mail cannot be moved to the folder it is fetched from; choose another folder.")
        if not uids:
            return
        self._ensure_folder(folder)
        client, target = self._client, quote_folder(folder)
        with self._talking(f"moving mail to the folder {folder!r}"):
            for uid_set in uid_sets(uids):
                if "MOVE" in self.capabilities:
                    _ok(client.uid("MOVE", uid_set, target), "UID MOVE")
                    continue
                _ok(client.uid("COPY", uid_set, target), "UID COPY")
                _ok(client.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Deleted)"), "UID STORE")
                if "UIDPLUS" in self.capabilities:
                    _ok(client.uid("EXPUNGE", uid_set), "UID EXPUNGE")
                else:
                    _ok(client.expunge(), "EXPUNGE")

    # --- the steps ---------------------------------------------------------------------------------

    @property
    def _client(self) -> imaplib.IMAP4:
        if self._connection is None:
            raise RuntimeError("ImapMailbox.open() first")
        return self._connection

    @property
    def _where(self) -> str:
        return f"{self.account.host}:{self.account.port}"

    def _connect(self) -> imaplib.IMAP4:
        account = self.account
        context = self._tls_context() if account.security != ImapSecurity.NONE else None
        if self._deadline is not None:
            self._watchdog = threading.Timer(self._deadline, self._expire)
            self._watchdog.daemon = True
            self._watchdog.start()
        try:
            if account.security == ImapSecurity.TLS:
                assert context is not None
                return _Imap4Tls(
                    account.host,
                    account.port,
                    ssl_context=context,
                    timeout=account.timeout_seconds,
                    owner=self,
                )
            connection = _Imap4(account.host, account.port, timeout=account.timeout_seconds, owner=self)
        except ssl.SSLError as error:
            raise self._tls_error(error) from error
        except OSError as error:
            if not self._expired and (self._socket is None or isinstance(error, TimeoutError)):
                raise ImapError(
                    f"Could not connect to {self._where}: {_reason(error)}", Failure.CONNECT
                ) from error
            raise self._not_imap(error) from error
        except Exception as error:  # imaplib's errors, and whatever a garbled greeting raises
            raise self._not_imap(error) from error
        if context is None:
            return connection
        try:
            if "STARTTLS" not in connection.capabilities:
                raise ImapError(
                    "The server does not offer STARTTLS; refusing to log in without encryption.", Failure.TLS
                )
            connection.starttls(context)
        except BaseException as error:
            with suppress(OSError):
                connection.shutdown()
            if isinstance(error, ssl.SSLError):
                raise self._tls_error(error) from error
            if isinstance(error, OSError | imaplib.IMAP4.error):
                log.warning(
                    "imap.starttls_failed", host=account.host, port=account.port, error=str(error)[:500]
                )
                message = f"STARTTLS with {self._where} failed; refusing to log in without encryption."
                raise ImapError(message, Failure.TLS) from error
            raise
        return connection

    def _opened(self, sock: socket.socket) -> None:
        """The socket exists (imaplib made it): the watchdog may shut it from now on."""
        self._socket = sock
        if self._expired:
            self._expire()

    def _expire(self) -> None:
        self._expired = True
        if self._socket is not None:
            with suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)

    def _not_imap(self, error: BaseException) -> ImapError:
        log.warning("imap.not_imap", host=self.account.host, port=self.account.port, error=repr(error)[:500])
        if self._expired:
            return ImapError(f"{self._where} did not answer within {self._deadline:g} s.", Failure.NOT_IMAP)
        return ImapError(f"{self._where} does not answer as an IMAP server.", Failure.NOT_IMAP)

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.account.ca_file:
            try:
                context.load_verify_locations(cafile=self.account.ca_file)
            except (OSError, ssl.SSLError) as error:
                message = f"The CA file {self.account.ca_file!r} cannot be read: {_reason(error)}"
                raise ImapError(message, Failure.TLS) from error
        return context

    def _tls_error(self, error: ssl.SSLError) -> ImapError:
        """OpenSSL's own words (a fixed set: "certificate has expired", "wrong version number"),
        never text of the server's."""
        log.warning("imap.tls_failed", host=self.account.host, port=self.account.port, error=str(error)[:500])
        if isinstance(error, ssl.SSLCertVerificationError):
            return ImapError(
                f"The certificate of {self._where} could not be verified ({error.verify_message}). "
                "If the server uses its own certificate authority, give its CA certificate.",
                Failure.TLS,
            )
        hint = "; is this the port for implicit TLS?" if error.reason == "WRONG_VERSION_NUMBER" else "."
        return ImapError(f"TLS with {self._where} failed: {_reason(error)}{hint}", Failure.TLS)

    def _log_in(self, connection: imaplib.IMAP4) -> None:
        """LOGIN where both names are printable ASCII, else AUTHENTICATE PLAIN (UTF-8, base64):
        imaplib sends the user name unquoted, and a CR or LF in a quoted string would end the
        command early."""
        user, password = self.account.username, self.account.password
        capabilities = {name.upper() for name in connection.capabilities}
        if "LOGINDISABLED" in capabilities:
            raise ImapError(ENCRYPTION_REQUIRED, Failure.LOGIN)
        with self._talking("logging in"):
            try:
                if _quotable(user) and _quotable(password):
                    connection.login(_quote(user), password)
                elif "AUTH=PLAIN" in capabilities:
                    connection.authenticate("PLAIN", lambda _: f"\0{user}\0{password}".encode())
                else:
                    raise ImapError(
                        "The server cannot take a user name or password with non-ASCII characters.",
                        Failure.LOGIN,
                    )
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error as error:
                code = _code(str(error))
                if code == "PRIVACYREQUIRED":
                    message = ENCRYPTION_REQUIRED
                elif code == "UNAVAILABLE":
                    message = "The server cannot log anyone in just now; try again later."
                else:
                    message = LOGIN_REFUSED
                raise ImapError(
                    message, Failure.LOGIN
                ) from None  # imaplib's error adds nothing but the reply

    def _select(self, connection: imaplib.IMAP4) -> int:
        folder = self.account.folder
        with self._talking(f"opening the folder {folder!r}"):
            try:
                kind, data = connection.select(quote_folder(folder))
            except imaplib.IMAP4.readonly:
                raise ImapError(
                    f"The folder {folder!r} is read-only for this user.", Failure.FOLDER
                ) from None
            if kind != "OK":
                kind_status, _ = connection.status(quote_folder(folder), "(MESSAGES)")
                if kind_status != "OK":
                    raise ImapError(f"The folder {folder!r} does not exist.", Failure.FOLDER)
                message = f"The server refused to open the folder {folder!r}{_code_of(data)}."
                raise ImapError(message, Failure.FOLDER)
            try:
                self.message_count = int(data[0] or 0)
            except ValueError:
                raise ImapError(
                    f"{self._where} does not answer as an IMAP server.", Failure.NOT_IMAP
                ) from None
            _, validity = connection.response("UIDVALIDITY")
        if not validity or validity[0] is None or not str(validity[0], "ascii", "replace").isdigit():
            raise ImapError(
                f"The server did not give a UIDVALIDITY for the folder {folder!r}.", Failure.FOLDER
            )
        return int(validity[0])

    def _ensure_folder(self, folder: str) -> None:
        client, name = self._client, quote_folder(folder)
        with self._talking(f"creating the folder {folder!r}"):
            if client.status(name, "(MESSAGES)")[0] == "OK":
                return
            kind, data = client.create(name)
            if kind != "OK" and _code(_text(data)) != "ALREADYEXISTS":
                raise ImapError(
                    f"The folder {folder!r} could not be created{_code_of(data)}.", Failure.FOLDER
                )
            client.subscribe(name)  # so that mail clients show it; a refusal changes nothing here

    def _store(self, uids: Sequence[int], flags: str) -> None:
        with self._talking("flagging mail"):
            for uid_set in uid_sets(uids):
                _ok(self._client.uid("STORE", uid_set, "+FLAGS.SILENT", flags), "UID STORE")

    @contextmanager
    def _talking(self, doing: str) -> Iterator[None]:
        """Turn what imaplib and the socket raise into an ImapError that says what we were doing."""
        try:
            yield
        except ImapError:
            raise
        except (imaplib.IMAP4.error, OSError, ValueError) as error:
            log.warning(
                "imap.failed",
                host=self.account.host,
                port=self.account.port,
                doing=doing,
                error=repr(error)[:500],
            )
            if self._expired or isinstance(error, TimeoutError):
                seconds = f"{self._deadline if self._expired else self.account.timeout_seconds:g}"
                raise ImapError(
                    f"{self._where} did not answer within {seconds} s while {doing}.", Failure.TIMEOUT
                ) from error
            if isinstance(error, imaplib.IMAP4.abort | OSError | ValueError):
                raise ImapError(
                    f"The connection to {self._where} broke while {doing}.", Failure.SERVER
                ) from error
            raise ImapError(f"The server refused {doing}{_code_of([str(error)])}.", Failure.SERVER) from error


class _Imap4(imaplib.IMAP4):
    """imaplib's client, telling its mailbox the socket as soon as it exists (for the deadline)."""

    def __init__(self, host: str, port: int, *, timeout: float, owner: ImapMailbox) -> None:
        self._owner = owner
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = super()._create_socket(timeout)  # type: ignore[misc]
        self._owner._opened(sock)
        return sock  # type: ignore[no-any-return]


class _Imap4Tls(imaplib.IMAP4_SSL):
    def __init__(
        self, host: str, port: int, *, ssl_context: ssl.SSLContext, timeout: float, owner: ImapMailbox
    ) -> None:
        self._owner = owner
        self._context = ssl_context
        super().__init__(host, port, ssl_context=ssl_context, timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        """The plain socket is handed over before the handshake, so the deadline covers it too."""
        sock = imaplib.IMAP4._create_socket(self, timeout)  # type: ignore[attr-defined]
        self._owner._opened(sock)
        return self._context.wrap_socket(sock, server_hostname=self.host)


class _Window:
    """At most `limit` events per key in any `seconds`, in this process."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self.times: dict[object, list[float]] = {}
        self.lock = threading.Lock()

    def take(self, key: object) -> bool:
        """Count one event for `key`; False (and nothing counted) when it is over the limit."""
        with self.lock:
            now = time.monotonic()
            for other in [k for k, times in self.times.items() if now - times[-1] >= self.seconds]:
                del self.times[other]
            recent = [t for t in self.times.get(key, []) if now - t < self.seconds]
            if len(recent) >= self.limit:
                return False
            self.times[key] = [*recent, now]
            return True

    def clear(self) -> None:
        with self.lock:
            self.times.clear()


# Connection tests per admin, by (user id, e-mail address): the web and API routes take one
# before each test.
PROBES = _Window(PROBES_PER_MINUTE, 60.0)


def probe(account: ImapAccount) -> str:
    """The admin's "test connection": log in, open the folder, say how many messages it holds.

    Fails with an ImapError whose text is one of the fixed sentences of `probe_message`, whatever
    the other end said; the mailbox's own host and port only, PROBE_SECONDS in all. The routes
    that offer it take one of an admin's PROBES_PER_MINUTE first (`PROBES`)."""
    seconds = min(account.timeout_seconds, PROBE_SECONDS)
    account = ImapAccount(
        host=account.host,
        port=account.port,
        security=account.security,
        username=account.username,
        password=account.password,
        folder=account.folder,
        timeout_seconds=seconds,
        ca_file=account.ca_file,
    )
    try:
        with ImapMailbox(account, deadline_seconds=seconds) as mailbox:
            mailbox.open()
            count = mailbox.message_count
    except ImapError as error:
        raise ImapError(probe_message(account, error), error.failure) from error
    except Exception as error:  # the contract: a fixed sentence, whatever the other end did
        log.warning("imap.probe_failed", host=account.host, port=account.port, error=repr(error)[:500])
        raise ImapError(probe_message(account, ImapError("", Failure.NOT_IMAP)), Failure.NOT_IMAP) from error
    return f"Connected; {count} message{'' if count == 1 else 's'} in {account.folder}."


def probe_message(account: ImapAccount, error: ImapError) -> str:
    """The one sentence the connection test says for a failure of this kind."""
    where = f"{account.host}:{account.port}"
    match error.failure:
        case Failure.CONNECT:
            return str(error)  # "Could not connect to host:port: connection refused" (our own OS's words)
        case Failure.TLS:
            return (
                f"TLS with {where} failed: the port may not be the one for the chosen security (993 "
                "for TLS, 143 for STARTTLS), or the certificate could not be verified (give the CA "
                "certificate of a server with a certificate authority of its own)."
            )
        case Failure.LOGIN:
            return ENCRYPTION_REQUIRED if str(error) == ENCRYPTION_REQUIRED else LOGIN_REFUSED
        case Failure.FOLDER:
            return f"The folder {account.folder!r} does not exist or cannot be opened."
        case Failure.TIMEOUT:
            return f"{where} did not answer within {account.timeout_seconds:g} s."
        case _:
            return f"{where} does not answer as an IMAP server."


def _fetched(data: Sequence[Any]) -> list[dict[str, FetchValue]]:
    try:
        return parse_fetch(data)
    except UnreadableResponse as error:
        raise ImapError(str(error)) from error


def _ok(result: tuple[str, list[Any]], command: str) -> list[Any]:
    kind, data = result
    if kind != "OK":
        log.warning("imap.refused", command=command, kind=kind, text=_text(data)[:500])
        shown = kind if kind in ("NO", "BAD") else "an error"
        raise ImapError(f"The server answered {command} with {shown}{_code_of(data)}.")
    return data


def _text(data: Sequence[Any]) -> str:
    last = data[-1] if data else b""
    raw = last[0] if isinstance(last, tuple) else last
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")


def _code(text: str) -> str:
    """The response code of a NO/BAD reply ("[AUTHENTICATIONFAILED] ..."), upper case, or ""."""
    found = re.search(r"\[([A-Za-z-]+)", text)
    return found[1].upper() if found else ""


def _code_of(data: Sequence[Any]) -> str:
    """ " ([OVERQUOTA])" for a reply with a known response code, else "": never the reply's text."""
    code = _code(_text(data))
    return f" ([{code}])" if code in RESPONSE_CODES else ""


def _folder_key(name: str) -> str:
    """INBOX is the one name that is case-insensitive (RFC 3501 §5.1)."""
    return "INBOX" if name.upper() == "INBOX" else name


def _quotable(text: str) -> bool:
    return all(" " <= char <= "~" for char in text)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, ssl.SSLError) and error.reason:
        return error.reason.lower().replace("_", " ")
    if isinstance(error, OSError) and error.strerror:
        return error.strerror[0].lower() + error.strerror[1:]
    return str(error) or type(error).__name__
