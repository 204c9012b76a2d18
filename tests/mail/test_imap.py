"""The IMAP client against a real Dovecot (tests/imapserver.py): logging in safely, finding new
mail, fetching it without marking it read, and marking or moving what was ingested."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.imapserver import Dovecot, ImapUser
from tests.servers import closed_port
from ticketry.mailparse import imapwire
from ticketry.mailparse.imap import (
    LOGIN_REFUSED,
    PROBES,
    Envelope,
    ImapError,
    ImapMailbox,
    ImapSecurity,
    probe,
)
from ticketry.mailparse.imapwire import String, UnreadableResponse, parse_fetch, quote_folder, uid_sets


def mail(subject: str, body: str = "Hello.\r\n") -> bytes:
    return (
        f"From: Ann <ann@example.com>\r\nTo: help@example.com\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '.')}@example.com>\r\n\r\n{body}"
    ).encode()


def header_of(raw: bytes) -> bytes:
    return raw[: raw.index(b"\r\n\r\n") + 4]


@pytest.fixture
def mailbox(dovecot: Dovecot, imap_user: ImapUser) -> Iterator[ImapMailbox]:
    """An open mailbox for `imap_user`'s INBOX (over TLS)."""
    with ImapMailbox(dovecot.account(imap_user)) as opened:
        opened.open()
        yield opened


class TestOpen:
    def test_tls_with_ca_file_logs_in(self, dovecot: Dovecot, imap_user: ImapUser) -> None:
        dovecot.append(imap_user, mail("one"))
        mark = dovecot.log_mark()
        with ImapMailbox(dovecot.account(imap_user, ImapSecurity.TLS)) as mailbox:
            validity = mailbox.open()
            assert validity > 0
            assert mailbox.message_count == 1
            assert {"UIDPLUS", "MOVE"} <= mailbox.capabilities  # read after login, not before
        logged = dovecot.wait_for_log(f"Login: user=<{imap_user.name}>", since=mark)
        assert f"user=<{imap_user.name}>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, mpid=" in logged
        assert ", TLS," in logged

    def test_starttls_with_ca_file_logs_in_over_tls(self, dovecot: Dovecot, imap_user: ImapUser) -> None:
        mark = dovecot.log_mark()
        with ImapMailbox(dovecot.account(imap_user, ImapSecurity.STARTTLS)) as mailbox:
            assert mailbox.open() > 0
        login = next(
            line
            for line in dovecot.wait_for_log(f"Login: user=<{imap_user.name}>", since=mark).splitlines()
            if "Login:" in line
        )
        assert ", TLS," in login  # a plain-text login from 127.0.0.1 says "secured" instead

    def test_plain_text_when_the_admin_chose_it(self, dovecot_plain_only: Dovecot) -> None:
        user = dovecot_plain_only.add_user()
        with ImapMailbox(dovecot_plain_only.account(user, ImapSecurity.NONE)) as mailbox:
            assert mailbox.open() > 0

    @pytest.mark.parametrize("security", [ImapSecurity.TLS, ImapSecurity.STARTTLS])
    def test_certificate_of_an_unknown_ca_is_refused(
        self, dovecot: Dovecot, imap_user: ImapUser, security: ImapSecurity
    ) -> None:
        account = dovecot.account(imap_user, security, ca_file=None)
        mark = dovecot.log_mark()
        with pytest.raises(ImapError) as refused:
            ImapMailbox(account).open()
        assert str(refused.value) == (
            f"The certificate of 127.0.0.1:{account.port} could not be verified (unable to get local "
            "issuer certificate). If the server uses its own certificate authority, give its CA certificate."
        )
        assert imap_user.name not in dovecot.log_since(mark)

    def test_starttls_not_offered_is_refused(self, dovecot_plain_only: Dovecot) -> None:
        user = dovecot_plain_only.add_user()
        account = dovecot_plain_only.account(user, ImapSecurity.STARTTLS)
        mark = dovecot_plain_only.log_mark()
        with pytest.raises(
            ImapError, match=r"^The server does not offer STARTTLS; refusing to log in without"
        ):
            ImapMailbox(account).open()
        # The server saw a connection end without any attempt to log in...
        refused = dovecot_plain_only.wait_for_log("(no auth attempts in", since=mark)
        assert "Login:" not in refused and user.name not in refused
        # ...though the same password works in plain text: nothing but our refusal kept it back.
        with ImapMailbox(dataclasses.replace(account, security=ImapSecurity.NONE)) as mailbox:
            mailbox.open()
        dovecot_plain_only.wait_for_log(f"Login: user=<{user.name}>", since=mark)

    def test_wrong_password_is_refused(self, dovecot: Dovecot, imap_user: ImapUser) -> None:
        account = dovecot.account(imap_user, password="not-" + imap_user.password)
        with pytest.raises(ImapError) as refused:
            ImapMailbox(account).open()
        assert str(refused.value) == LOGIN_REFUSED == "The server refused the user name or password."
        assert account.password not in str(refused.value) + repr(account)

    @pytest.mark.parametrize(
        "password", ['with "quotes" and \\ backslash', "looks like a literal {3}", "pässwörd ✓"]
    )
    def test_passwords_with_special_characters_log_in(self, dovecot: Dovecot, password: str) -> None:
        user = dovecot.add_user(password=password)
        with ImapMailbox(dovecot.account(user)) as mailbox:
            assert mailbox.open() > 0

    def test_missing_folder_is_named(self, dovecot: Dovecot, imap_user: ImapUser) -> None:
        with pytest.raises(ImapError) as refused:
            ImapMailbox(dovecot.account(imap_user, folder="Foo")).open()
        assert str(refused.value) == "The folder 'Foo' does not exist."

    def test_other_folder_is_selected(self, dovecot: Dovecot, imap_user: ImapUser) -> None:
        dovecot.append(imap_user, mail("one"), folder="Support Ünterordner")
        dovecot.append(imap_user, mail("two"), folder="Support Ünterordner")
        with ImapMailbox(dovecot.account(imap_user, folder="Support Ünterordner")) as mailbox:
            mailbox.open()
            assert mailbox.message_count == 2

    def test_connection_refused_is_named(self, dovecot: Dovecot, imap_user: ImapUser) -> None:
        port = closed_port()
        with pytest.raises(ImapError) as refused:
            ImapMailbox(dovecot.account(imap_user, port=port)).open()
        assert str(refused.value) == f"Could not connect to 127.0.0.1:{port}: connection refused"

    def test_server_that_never_greets_times_out(self, dovecot: Dovecot, imap_user: ImapUser) -> None:
        with socket.socket() as silent:  # the kernel completes the handshake; nobody answers
            silent.bind(("127.0.0.1", 0))
            silent.listen()
            port = silent.getsockname()[1]
            account = dovecot.account(imap_user, port=port, timeout_seconds=0.3)
            started = time.monotonic()
            with pytest.raises(ImapError) as refused:
                ImapMailbox(account).open()
        assert str(refused.value) == f"Could not connect to 127.0.0.1:{port}: timed out"
        assert time.monotonic() - started < 3

    def test_tls_on_the_plain_port_says_so(self, dovecot: Dovecot, imap_user: ImapUser) -> None:
        with pytest.raises(ImapError) as refused:
            ImapMailbox(dovecot.account(imap_user, ImapSecurity.TLS, port=dovecot.port)).open()
        assert str(refused.value) == (
            f"TLS with 127.0.0.1:{dovecot.port} failed: wrong version number; "
            "is this the port for implicit TLS?"
        )

    def test_unreadable_ca_file_is_named(self, dovecot: Dovecot, imap_user: ImapUser) -> None:
        with pytest.raises(ImapError) as refused:
            ImapMailbox(dovecot.account(imap_user, ca_file="/nonexistent/ca.pem")).open()
        assert str(refused.value).startswith("The CA file '/nonexistent/ca.pem' cannot be read: ")


class TestUidValidity:
    def test_stable_across_connections(self, dovecot: Dovecot, imap_user: ImapUser) -> None:
        dovecot.append(imap_user, mail("one"))
        validities = set()
        for security in (ImapSecurity.TLS, ImapSecurity.STARTTLS, ImapSecurity.TLS):
            with ImapMailbox(dovecot.account(imap_user, security)) as mailbox:
                validities.add(mailbox.open())
        assert len(validities) == 1

    def test_changes_when_the_folder_is_recreated(self, dovecot: Dovecot, imap_user: ImapUser) -> None:
        dovecot.append(imap_user, mail("one"), folder="Support")
        account = dovecot.account(imap_user, folder="Support")
        with ImapMailbox(account) as mailbox:
            before = mailbox.open()
        with dovecot.session(imap_user) as client:
            assert client.delete('"Support"')[0] == "OK"
        dovecot.append(imap_user, mail("two"), folder="Support")
        with ImapMailbox(account) as mailbox:
            assert mailbox.open() != before


class TestUidsAfter:
    def test_lists_new_uids_ascending(self, dovecot: Dovecot, imap_user: ImapUser) -> None:
        uids = dovecot.append_many(imap_user, [mail(f"m{n}") for n in range(4)])
        with ImapMailbox(dovecot.account(imap_user)) as mailbox:
            mailbox.open()
            assert mailbox.uids_after(0) == uids
            assert mailbox.uids_after(uids[1]) == uids[2:]

    def test_highest_uid_is_not_new(self, dovecot: Dovecot, imap_user: ImapUser) -> None:
        """`UID SEARCH UID n:*` matches the highest UID even when it is below n."""
        uids = dovecot.append_many(imap_user, [mail("a"), mail("b")])
        with ImapMailbox(dovecot.account(imap_user)) as mailbox:
            mailbox.open()
            assert mailbox.uids_after(uids[-1]) == []
            assert mailbox.uids_after(uids[-1] + 10) == []
            assert mailbox.uids_after(2**32 - 1) == []

    def test_empty_folder_has_none(self, mailbox: ImapMailbox) -> None:
        assert mailbox.uids_after(0) == []


class TestEnvelopes:
    def test_batch_has_sizes_and_headers(self, dovecot: Dovecot, imap_user: ImapUser) -> None:
        raws = [mail("short"), mail("longer", "x" * 5000 + "\r\n"), mail("third")]
        uids = dovecot.append_many(imap_user, raws)
        with ImapMailbox(dovecot.account(imap_user)) as mailbox:
            mailbox.open()
            envelopes = mailbox.envelopes(list(reversed(uids)))
        assert envelopes == [
            Envelope(uid, len(raw), header_of(raw)) for uid, raw in zip(uids, raws, strict=True)
        ]

    def test_batches_span_several_commands(
        self, dovecot: Dovecot, imap_user: ImapUser, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        raws = [mail(f"m{n}") for n in range(7)]
        uids = dovecot.append_many(imap_user, raws)
        monkeypatch.setattr(imapwire, "UIDS_PER_COMMAND", 2)
        wanted = [uid for uid in uids if uid != uids[3]]
        with ImapMailbox(dovecot.account(imap_user)) as mailbox:
            mailbox.open()
            assert [envelope.uid for envelope in mailbox.envelopes(wanted)] == wanted

    def test_gone_uids_are_left_out(self, dovecot: Dovecot, imap_user: ImapUser) -> None:
        uid = dovecot.append(imap_user, mail("one"))
        with ImapMailbox(dovecot.account(imap_user)) as mailbox:
            mailbox.open()
            assert [envelope.uid for envelope in mailbox.envelopes([uid, uid + 100])] == [uid]
            assert mailbox.envelopes([]) == []


class TestBodies:
    def test_bodies_are_raw_and_stay_unseen(self, dovecot: Dovecot, imap_user: ImapUser) -> None:
        raws = [mail("one"), mail("two", "Ünïcode body, 8-bit\r\n")]
        uids = dovecot.append_many(imap_user, raws)
        with ImapMailbox(dovecot.account(imap_user)) as mailbox:
            mailbox.open()
            assert list(mailbox.bodies([uids[1], uids[0], uids[1] + 50])) == list(
                zip(uids, raws, strict=True)
            )
        assert all("\\Seen" not in dovecot.flags(imap_user, "INBOX", uid) for uid in uids)


class TestMarkSeen:
    def test_only_those_are_seen(self, dovecot: Dovecot, imap_user: ImapUser) -> None:
        uids = dovecot.append_many(imap_user, [mail("a"), mail("b"), mail("c")])
        with ImapMailbox(dovecot.account(imap_user)) as mailbox:
            mailbox.open()
            mailbox.mark_seen([uids[0], uids[2]])
        assert ["\\Seen" in dovecot.flags(imap_user, "INBOX", uid) for uid in uids] == [True, False, True]


class TestMove:
    def test_moves_into_a_folder_it_creates(self, dovecot: Dovecot, imap_user: ImapUser) -> None:
        uids = dovecot.append_many(imap_user, [mail("a"), mail("b"), mail("c")])
        assert dovecot.folders(imap_user) == ["INBOX"]
        with ImapMailbox(dovecot.account(imap_user)) as mailbox:
            mailbox.open()
            mailbox.move(uids[:2], "Processed")
            assert mailbox.uids_after(0) == uids[2:]
        assert dovecot.folders(imap_user) == ["INBOX", "Processed"]
        assert dovecot.uids(imap_user, "INBOX") == uids[2:]
        assert len(dovecot.uids(imap_user, "Processed")) == 2

    def test_moves_into_an_existing_folder(self, dovecot: Dovecot, imap_user: ImapUser) -> None:
        dovecot.append(imap_user, mail("old"), folder="Processed")
        uid = dovecot.append(imap_user, mail("new"))
        with ImapMailbox(dovecot.account(imap_user)) as mailbox:
            mailbox.open()
            mailbox.move([uid], "Processed")
        assert dovecot.uids(imap_user, "INBOX") == []
        assert len(dovecot.uids(imap_user, "Processed")) == 2

    def test_without_move_copies_then_expunges_only_those(
        self, dovecot: Dovecot, imap_user: ImapUser
    ) -> None:
        uids = dovecot.append_many(imap_user, [mail("a"), mail("b")])
        deleted_by_someone = dovecot.append(imap_user, mail("c"), flags=["\\Deleted"])
        with ImapMailbox(dovecot.account(imap_user)) as mailbox:
            mailbox.open()
            mailbox.capabilities -= {"MOVE"}
            mailbox.move(uids, "Erledigt ✓")
        assert "Erledigt ✓" in dovecot.folders(imap_user)
        assert dovecot.uids(imap_user, "INBOX") == [deleted_by_someone]  # UID EXPUNGE left it
        assert len(dovecot.uids(imap_user, "Erledigt ✓")) == 2

    def test_to_the_folder_it_reads_is_refused(self, mailbox: ImapMailbox) -> None:
        with pytest.raises(ImapError, match="cannot be moved to the folder it is fetched from"):
            mailbox.move([1], "inbox")


class TestProbe:
    @pytest.fixture(autouse=True)
    def fresh_probe_limit(self) -> Iterator[None]:
        PROBES.clear()
        yield
        PROBES.clear()

    def test_says_how_many_messages(self, dovecot: Dovecot, imap_user: ImapUser) -> None:
        dovecot.append_many(imap_user, [mail("a"), mail("b")])
        assert probe(dovecot.account(imap_user)) == "Connected; 2 messages in INBOX."

    def test_says_the_folder_is_missing_in_a_fixed_sentence(
        self, dovecot: Dovecot, imap_user: ImapUser
    ) -> None:
        with pytest.raises(ImapError, match=r"^The folder 'Nope' does not exist or cannot be opened\.$"):
            probe(dovecot.account(imap_user, folder="Nope"))


class TestTimeouts:
    def test_server_that_stops_answering(self, dovecot: Dovecot, imap_user: ImapUser) -> None:
        """A server that logs us in, then never answers SELECT: the wait ends after the timeout,
        and logging out does not wait as long again."""
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()

        def answer() -> None:
            connection, _ = server.accept()
            with connection, connection.makefile("rb") as lines:
                connection.sendall(b"* OK [CAPABILITY IMAP4rev1] ready\r\n")
                for line in lines:
                    tag, command = line.split()[:2]
                    if command.upper() == b"SELECT":
                        time.sleep(5)
                        return
                    connection.sendall(b"* CAPABILITY IMAP4rev1\r\n" + tag + b" OK done\r\n")

        threading.Thread(target=answer, daemon=True).start()
        account = dovecot.account(
            imap_user, ImapSecurity.NONE, port=server.getsockname()[1], timeout_seconds=1
        )
        started = time.monotonic()
        with server, pytest.raises(ImapError) as refused:
            ImapMailbox(account).open()
        assert str(refused.value) == (
            f"127.0.0.1:{account.port} did not answer within 1 s while opening the folder 'INBOX'."
        )
        assert time.monotonic() - started < 1.9


class TestParseFetch:
    def test_items_in_any_order_with_unsolicited_responses(self) -> None:
        data = [
            (b"1 (UID 5 RFC822.SIZE 30 BODY[HEADER] {9}", b"Subject: "),
            b")",
            b"2 (FLAGS (\\Seen \\Answered))",
            (b"3 (BODY[HEADER] {4}", b"A: b"),
            b" RFC822.SIZE 12 UID 7)",
        ]
        assert parse_fetch(data) == [
            {"UID": b"5", "RFC822.SIZE": b"30", "BODY[HEADER]": String(b"Subject: ")},
            {"FLAGS": [b"\\Seen", b"\\Answered"]},
            {"BODY[HEADER]": String(b"A: b"), "RFC822.SIZE": b"12", "UID": b"7"},
        ]

    def test_several_literals_quoted_strings_and_nil(self) -> None:
        data = [
            (b"4 (UID 9 BODY[HEADER.FIELDS (SUBJECT)] {3}", b"x\r\n"),
            (b" BODY[TEXT]<0> {2}", b"hi"),
            b' X-NAME "a \\"b\\"" BODY[] NIL)',
            None,
        ]
        assert parse_fetch(data) == [
            {
                "UID": b"9",
                "BODY[HEADER.FIELDS (SUBJECT)]": String(b"x\r\n"),
                "BODY[TEXT]<0>": String(b"hi"),
                "X-NAME": String(b'a "b"'),
                "BODY[]": b"NIL",
            }
        ]

    def test_one_message_over_several_responses_is_merged(self) -> None:
        data = [b"3 (UID 8 RFC822.SIZE 4)", b"4 (FLAGS ())", (b"3 (BODY[HEADER] {4}", b"A: b"), b")"]
        assert parse_fetch(data) == [
            {"UID": b"8", "RFC822.SIZE": b"4", "BODY[HEADER]": String(b"A: b")},
            {"FLAGS": []},
        ]

    @pytest.mark.parametrize("data", [[b"1 (UID 5"], [b"UID 5)"], [b'1 (UID "5)']])
    def test_garbage_is_refused(self, data: list[bytes]) -> None:
        """(`ImapMailbox` turns it into an ImapError: the poll fails with that reason.)"""
        with pytest.raises(UnreadableResponse, match="could not be read"):
            parse_fetch(data)


class TestUidSets:
    def test_runs_are_compressed(self) -> None:
        assert list(uid_sets([7, 1, 2, 3, 3, 9, 10])) == ["1:3,7,9:10"]

    def test_long_lists_are_split(self) -> None:
        assert list(uid_sets(range(1, 8), per_command=3)) == ["1:3", "4:6", "7"]
        assert list(uid_sets([])) == []


class TestQuoteFolder:
    @pytest.mark.parametrize(
        ("name", "quoted"),
        [
            ("INBOX", '"INBOX"'),
            ("~peter/mail/台北/日本語", '"~peter/mail/&U,BTFw-/&ZeVnLIqe-"'),  # RFC 3501 §5.1.3
            ("Tom & Jerry", '"Tom &- Jerry"'),
            ('say "hi" \\', '"say \\"hi\\" \\\\"'),
            ("line\r\nbreak", '"line&AA0ACg-break"'),
        ],
    )
    def test_modified_utf7_quoted(self, name: str, quoted: str) -> None:
        assert quote_folder(name) == quoted
