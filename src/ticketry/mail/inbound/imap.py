"""The IMAP client the poller uses: log in without ever falling back to plain text, select one
folder, list new UIDs, fetch headers and bodies without setting \\Seen, then mark or move what
was ingested. Standard library only (`imaplib`, `ssl`); no database, no web framework.

Every failure is an `ImapError` whose text an admin can act on; it never contains the password.
"""

from __future__ import annotations

import base64
import enum
import imaplib
import re
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import structlog

log = structlog.get_logger(__name__)

UIDS_PER_COMMAND = 200
MAX_UID = 2**32 - 1
LOGIN_REFUSED = "The server refused the user name or password."
ENCRYPTION_REQUIRED = "The server does not accept a password without encryption; choose TLS or STARTTLS."


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
    """A short sentence an admin can act on."""


@dataclass(frozen=True)
class Envelope:
    """What is fetched before the body."""

    uid: int
    size: int  # RFC822.SIZE
    headers: bytes  # BODY[HEADER], the blank line included


class ImapMailbox:
    """One connection to one folder; a context manager that logs out quietly on exit."""

    def __init__(self, account: ImapAccount) -> None:
        self.account = account
        self.message_count = 0  # EXISTS when the folder was selected
        self.capabilities: frozenset[str] = frozenset()  # after login
        self._connection: imaplib.IMAP4 | None = None

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
        found = {int(uid) for line in data if line for uid in line.split()}
        return sorted(uid for uid in found if uid > last_uid)

    def envelopes(self, uids: Sequence[int]) -> list[Envelope]:
        """Size and header of each message, ascending by UID; UIDs gone meanwhile are left out."""
        found: dict[int, Envelope] = {}
        for uid_set in uid_sets(uids):
            with self._talking("fetching headers"):
                data = _ok(
                    self._client.uid("FETCH", uid_set, "(UID RFC822.SIZE BODY.PEEK[HEADER])"), "UID FETCH"
                )
            for item in parse_fetch(data):
                uid, size, headers = item.get("UID"), item.get("RFC822.SIZE"), item.get("BODY[HEADER]")
                if isinstance(uid, bytes) and uid.isdigit() and isinstance(size, bytes) and size.isdigit():
                    found[int(uid)] = Envelope(int(uid), int(size), _string(headers or b""))
        return [found[uid] for uid in sorted(set(uids)) if uid in found]

    def bodies(self, uids: Sequence[int]) -> Iterator[tuple[int, bytes]]:
        """(uid, raw message) one at a time, ascending; BODY.PEEK never sets \\Seen. A UID that is
        gone meanwhile is skipped."""
        for wanted in sorted(set(uids)):
            with self._talking("fetching a message"):
                data = _ok(self._client.uid("FETCH", str(wanted), "(UID BODY.PEEK[])"), "UID FETCH")
            for item in parse_fetch(data):
                uid, body = item.get("UID"), item.get("BODY[]")
                if uid == str(wanted).encode() and body is not None:
                    yield wanted, _string(body)
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
        try:
            if account.security == ImapSecurity.TLS:
                assert context is not None
                return imaplib.IMAP4_SSL(
                    account.host, account.port, ssl_context=context, timeout=account.timeout_seconds
                )
            connection = imaplib.IMAP4(account.host, account.port, timeout=account.timeout_seconds)
        except ssl.SSLError as error:
            raise self._tls_error(error) from error
        except OSError as error:
            raise ImapError(f"Could not connect to {self._where}: {_reason(error)}") from error
        except imaplib.IMAP4.error as error:
            raise ImapError(f"{self._where} does not answer as an IMAP server: {error}") from error
        if context is None:
            return connection
        try:
            if "STARTTLS" not in connection.capabilities:
                raise ImapError("The server does not offer STARTTLS; refusing to log in without encryption.")
            connection.starttls(context)
        except BaseException as error:
            with suppress(OSError):
                connection.shutdown()
            if isinstance(error, ssl.SSLError):
                raise self._tls_error(error) from error
            if isinstance(error, OSError | imaplib.IMAP4.error):
                message = f"STARTTLS with {self._where} failed: {_reason(error)}"
                raise ImapError(f"{message}; refusing to log in without encryption.") from error
            raise
        return connection

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.account.ca_file:
            try:
                context.load_verify_locations(cafile=self.account.ca_file)
            except (OSError, ssl.SSLError) as error:
                message = f"The CA file {self.account.ca_file!r} cannot be read: {_reason(error)}"
                raise ImapError(message) from error
        return context

    def _tls_error(self, error: ssl.SSLError) -> ImapError:
        if isinstance(error, ssl.SSLCertVerificationError):
            return ImapError(
                f"The certificate of {self._where} could not be verified ({error.verify_message}). "
                "If the server uses its own certificate authority, give its CA certificate."
            )
        hint = "; is this the port for implicit TLS?" if error.reason == "WRONG_VERSION_NUMBER" else "."
        return ImapError(f"TLS with {self._where} failed: {_reason(error)}{hint}")

    def _log_in(self, connection: imaplib.IMAP4) -> None:
        """LOGIN where both names are printable ASCII, else AUTHENTICATE PLAIN (UTF-8, base64):
        imaplib sends the user name unquoted, and a CR or LF in a quoted string would end the
        command early."""
        user, password = self.account.username, self.account.password
        capabilities = {name.upper() for name in connection.capabilities}
        if "LOGINDISABLED" in capabilities:
            raise ImapError(ENCRYPTION_REQUIRED)
        with self._talking("logging in"):
            try:
                if _quotable(user) and _quotable(password):
                    connection.login(_quote(user), password)
                elif "AUTH=PLAIN" in capabilities:
                    connection.authenticate("PLAIN", lambda _: f"\0{user}\0{password}".encode())
                else:
                    raise ImapError(
                        "The server cannot take a user name or password with non-ASCII characters."
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
                raise ImapError(message) from None  # imaplib's error adds nothing but the reply

    def _select(self, connection: imaplib.IMAP4) -> int:
        folder = self.account.folder
        with self._talking(f"opening the folder {folder!r}"):
            try:
                kind, data = connection.select(quote_folder(folder))
            except imaplib.IMAP4.readonly:
                raise ImapError(f"The folder {folder!r} is read-only for this user.") from None
            if kind != "OK":
                kind_status, _ = connection.status(quote_folder(folder), "(MESSAGES)")
                if kind_status != "OK":
                    raise ImapError(f"The folder {folder!r} does not exist.")
                raise ImapError(f"The server refused to open the folder {folder!r}: {_text(data)}")
            self.message_count = int(data[0] or 0)
            _, validity = connection.response("UIDVALIDITY")
        if not validity or validity[0] is None:
            raise ImapError(f"The server did not give a UIDVALIDITY for the folder {folder!r}.")
        return int(validity[0])

    def _ensure_folder(self, folder: str) -> None:
        client, name = self._client, quote_folder(folder)
        with self._talking(f"creating the folder {folder!r}"):
            if client.status(name, "(MESSAGES)")[0] == "OK":
                return
            kind, data = client.create(name)
            if kind != "OK" and _code(_text(data)) != "ALREADYEXISTS":
                raise ImapError(f"The folder {folder!r} could not be created: {_text(data)}")
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
        except imaplib.IMAP4.abort as error:
            raise ImapError(f"The connection to {self._where} broke while {doing}: {error}") from error
        except imaplib.IMAP4.error as error:
            raise ImapError(f"The server refused {doing}: {error}") from error
        except TimeoutError as error:
            seconds = f"{self.account.timeout_seconds:g}"
            message = f"{self._where} did not answer within {seconds} s while {doing}."
            raise ImapError(message) from error
        except OSError as error:
            raise ImapError(
                f"The connection to {self._where} broke while {doing}: {_reason(error)}"
            ) from error


def probe(account: ImapAccount) -> str:
    """The admin's "test connection": log in, open the folder, say how many messages it holds."""
    with ImapMailbox(account) as mailbox:
        mailbox.open()
        count = mailbox.message_count
        return f"Connected; {count} message{'' if count == 1 else 's'} in {account.folder}."


# --- the protocol's small print ----------------------------------------------------------------


def uid_sets(uids: Sequence[int], per_command: int | None = None) -> Iterator[str]:
    """UID sets of at most `per_command` (UIDS_PER_COMMAND) UIDs each, runs compressed:
    [1, 2, 3, 7] -> "1:3,7"."""
    per_command = per_command or UIDS_PER_COMMAND
    ordered = sorted(set(uids))
    for start in range(0, len(ordered), per_command):
        parts: list[str] = []
        run_start = previous = ordered[start]
        for uid in [*ordered[start + 1 : start + per_command], None]:
            if uid is not None and uid == previous + 1:
                previous = uid
                continue
            parts.append(str(run_start) if run_start == previous else f"{run_start}:{previous}")
            if uid is not None:
                run_start = previous = uid
        yield ",".join(parts)


def quote_folder(name: str) -> str:
    """A folder name as an IMAP quoted string, in modified UTF-7 (RFC 3501 §5.1.3). Anything
    outside printable ASCII is base64-encoded, so no name can break the command line."""
    encoded: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            shifted = base64.b64encode("".join(pending).encode("utf-16-be")).rstrip(b"=")
            encoded.append("&" + shifted.replace(b"/", b",").decode("ascii") + "-")
            pending.clear()

    for char in name:
        if " " <= char <= "~":
            flush()
            encoded.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return '"' + "".join(encoded).replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class String:
    """A quoted string or literal in a FETCH response (an atom stays `bytes`)."""

    value: bytes


FetchValue = bytes | String | list["FetchValue"]
_LITERAL_AT_END = re.compile(rb"\{\d+\+?\}$")
_TOKEN = re.compile(
    rb'\s*(?:(?P<open>\()|(?P<close>\))|"(?P<quoted>(?:[^"\\]|\\.)*)"'
    rb"|(?P<atom>[^\s()\"\[\]]+(?:\[[^\]]*\](?:<\d+>)?)?))"
)
_OPEN, _CLOSE = object(), object()


def parse_fetch(data: Sequence[Any]) -> list[dict[str, FetchValue]]:
    """The FETCH responses imaplib returns, one dict per message keyed by upper-case item name
    ("UID", "RFC822.SIZE", "BODY[HEADER]", "FLAGS"), in the order the messages came.

    imaplib gives a response with a literal as a tuple (the text up to the literal's {n}, the
    literal) followed by the text after it (b")" or b" UID 5)"), and one without as bytes. Items
    come in any order; a server may split one message's items over several responses (merged
    here by sequence number) and mix in unsolicited ones (flag changes): callers pick what they
    asked for."""
    tokens: list[object] = []
    for part in data:
        if isinstance(part, tuple):
            head, literal = part
            tokens += _tokens(_LITERAL_AT_END.sub(b"", head))
            tokens.append(String(literal))
        elif part is not None:
            tokens += _tokens(part)
    messages: dict[int, dict[str, FetchValue]] = {}
    position = 0
    while position < len(tokens):
        number, opening = tokens[position], tokens[position + 1 : position + 2]
        if not isinstance(number, bytes) or not number.isdigit() or opening != [_OPEN]:
            raise ImapError("The server sent a FETCH response that could not be read.")
        items, position = _parse_list(tokens, position + 2)
        names = [
            name.decode("ascii", "replace").upper() if isinstance(name, bytes) else "" for name in items[::2]
        ]
        messages.setdefault(int(number), {}).update(zip(names, items[1::2], strict=False))
    return list(messages.values())


def _tokens(text: bytes) -> list[object]:
    tokens: list[object] = []
    text, position = text.rstrip(), 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise ImapError("The server sent a FETCH response that could not be read.")
        position = match.end()
        if match["open"]:
            tokens.append(_OPEN)
        elif match["close"]:
            tokens.append(_CLOSE)
        elif match["quoted"] is not None:
            tokens.append(String(re.sub(rb"\\(.)", rb"\1", match["quoted"])))
        else:
            tokens.append(match["atom"])
    return tokens


def _parse_list(tokens: list[object], position: int) -> tuple[list[FetchValue], int]:
    """The values up to the matching ")", and the position after it."""
    values: list[FetchValue] = []
    while position < len(tokens):
        token = tokens[position]
        if token is _CLOSE:
            return values, position + 1
        if token is _OPEN:
            inner, position = _parse_list(tokens, position + 1)
            values.append(inner)
            continue
        assert isinstance(token, bytes | String)
        values.append(token)
        position += 1
    raise ImapError("The server sent a FETCH response that could not be read.")


def _string(value: FetchValue) -> bytes:
    """A literal or quoted string's bytes; NIL (or any atom) is empty."""
    return value.value if isinstance(value, String) else b""


def _ok(result: tuple[str, list[Any]], command: str) -> list[Any]:
    kind, data = result
    if kind != "OK":
        raise ImapError(f"The server answered {command} with {kind}: {_text(data)}")
    return data


def _text(data: Sequence[Any]) -> str:
    last = data[-1] if data else b""
    raw = last[0] if isinstance(last, tuple) else last
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw or "")


def _code(text: str) -> str:
    """The response code of a NO/BAD reply ("[AUTHENTICATIONFAILED] ..."), upper case, or ""."""
    found = re.search(r"\[([A-Za-z-]+)", text)
    return found[1].upper() if found else ""


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
