"""Header and body injection in the mail we send (issue 12 item 1), and automatic mail to
addresses nobody reads (issue 12 item 10).

A title, a name or a received Subject holding an RFC 2047 encoded-word that decodes to CR/LF
(`=?utf-8?q?x=0D=0AReply-To:_attacker@evil.test?=`) must not add a header to a notification, nor
(with a blank line) replace its body: the stdlib header registry decodes encoded-words when a
header is set from a str, and Python 3.11.7 predates the fix for CVE-2024-6923. Every test parses
what would be sent with the stdlib parser, as a recipient's mail client would.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Iterator
from email import message_from_bytes
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP, default
from email.utils import formatdate
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from tests.factories import (
    Persona,
    assign,
    make_admin,
    make_agent,
    make_message,
    make_ticket,
    make_user,
    set_status,
    watch,
)
from tests.mail.inbound import Inbox, make_mailbox, run_jobs
from ticketry.auth import mail as account_mail
from ticketry.auth import signup
from ticketry.core.config import get_settings
from ticketry.core.db import Database
from ticketry.mail.log.models import Direction, MailLog, MailStatus
from ticketry.mail.outbound import compose, ids
from ticketry.mail.outbound.addresses import is_unattended
from ticketry.notifications.preferences import Kind
from ticketry.threads import merge as merges
from ticketry.tickets.models import Ticket, TicketStatus
from ticketry.users import service as users
from ticketry.users.models import Role, User

ATTACKER = "attacker@evil.test"
SUPPORT = "support@help.example.com"
SENDER = compose.parse_from(f"Example Support <{SUPPORT}>")


def q(text: str) -> str:
    """`text` as one Q-encoded word (`=?utf-8?q?x=0D=0ABcc:_a@evil.test?=`)."""
    escaped = (
        "_" if byte == 0x20 else chr(byte) if 33 <= byte <= 126 and chr(byte) not in "=?_" else f"={byte:02X}"
        for byte in text.encode()
    )
    return "=?utf-8?q?" + "".join(escaped) + "?="


def b(text: str) -> str:
    """`text` as one B-encoded word."""
    return "=?utf-8?b?" + base64.b64encode(text.encode()).decode() + "?="


# What the attacker wants the mail to say: headers of their own, then (after a blank line) a body.
HEADER = f"\r\nReply-To: {ATTACKER}\r\nBcc: {ATTACKER}"
BODY = "\r\n\r\nYour account is locked. Log in at https://evil.test/login"
SHORT = f"\r\nBcc: {ATTACKER}"


# --- the function every header value goes through ------------------------------------------------


def subject_mail(subject: str, *, name: str = "Ann") -> EmailMessage:
    mail = compose.compose(
        sender=SENDER,
        to=[compose.address("ann@example.com", name)],
        subject=subject,
        text="The real body.",
        html="<p>The real body.</p>",
        message_id=ids.plain_message_id("help.example.com"),
    )
    parsed = message_from_bytes(mail.raw, policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


BASE_HEADERS = [
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "auto-submitted",
    "x-auto-response-suppress",
    "mime-version",
    "content-type",
]


def assert_untouched(parsed: EmailMessage) -> None:
    """Exactly the headers compose sets, one recipient, no line break in any value, the body."""
    assert [name.lower() for name in parsed] == BASE_HEADERS
    assert [a.addr_spec for a in parsed["To"].addresses] == ["ann@example.com"]
    for name, value in parsed.items():
        assert "\r" not in str(value) and "\n" not in str(value), name
    plain = parsed.get_body(preferencelist=("plain",))
    assert plain is not None and plain.get_content().strip() == "The real body."


HOSTILE_SUBJECTS = {
    "raw CRLF": f"Printer{HEADER}{BODY}",
    "raw LF": "Printer\nBcc: attacker@evil.test",
    "raw CR": "Printer\rBcc: attacker@evil.test",
    "NUL": "Printer\x00\r\nBcc: attacker@evil.test",
    "U+2028 / U+2029": "Printer\u2028Bcc: attacker@evil.test\u2029X: 1",
    "NEL \\x85, VT, FF": "Printer\x85Bcc: attacker@evil.test\x0bX: 1\x0cY: 2",
    "Q-encoded": "Printer " + q(HEADER + BODY),
    "Q-encoded, literal text": "=?utf-8?q?x=0D=0AReply-To:_attacker@evil.test?=",
    "Q-encoded, glued to a word": "Printer" + q(HEADER),
    "Q-encoded, in parentheses": f"({q(HEADER)})",
    "Q-encoded, in quotes": f'"{q(HEADER)}"',
    "B-encoded": "Printer " + b(HEADER + BODY),
    "B-encoded, upper case": b(HEADER).replace("=?utf-8?b?", "=?UTF-8?B?"),
    "double-encoded": b(q(HEADER + BODY)),
    "triple-encoded": q(b(q(HEADER))),
    "mixed charsets": "=?iso-8859-1?q?Gr=FC=DFe=0D=0ABcc:_attacker@evil.test?= " + b("日本\r\nX-Evil: 1"),
    "unknown charset": "=?x-unknown?q?=0D=0ABcc:_attacker@evil.test=FF?=",
    "language tag": "=?utf-8*en?q?=0D=0ABcc:_attacker@evil.test?=",
    "encoded NUL and U+2028": q("\x00\u2028Bcc: attacker@evil.test\x85X: 1"),
}


# Pieces of encoded-words, line breaks and specials, for the fuzzed test.
PIECES = ["=?utf-8?q?", "=?utf-8?b?", "?=", "=?", "?", "=", "=0D=0A", "PQ==", "_", "Bcc: x@y"]
PIECES += ["\r\n", "\x85", "\u2028", "\x00", '"', "<", ">", ",", "\\", "(", ")", ":", "@", " ", "é", "日本"]


class TestHeaderText:
    @pytest.mark.parametrize("subject", HOSTILE_SUBJECTS.values(), ids=HOSTILE_SUBJECTS.keys())
    def test_a_hostile_subject_adds_no_header_and_keeps_the_body(self, subject: str) -> None:
        """CWE-93 CRLF injection / CVE-2024-6923 class: raw line breaks, and encoded-words (Q, B,
        nested, any charset) that the header registry would decode to line breaks."""
        parsed = subject_mail(subject)

        assert_untouched(parsed)
        assert ATTACKER not in str(parsed["Reply-To"] or "")
        assert "evil.test/login" not in (parsed.get_body(preferencelist=("plain",)) or parsed).get_content()

    @pytest.mark.parametrize("subject", HOSTILE_SUBJECTS.values(), ids=HOSTILE_SUBJECTS.keys())
    def test_the_text_is_decoded_flat_and_cannot_be_decoded_again(self, subject: str) -> None:
        """CWE-93 / CVE-2024-6923 class: what survives is one line of text with no encoded-word
        the registry could decode later (so nothing changes when it is set a second time)."""
        text = compose.header_text(subject, limit=250)

        assert not any(ch in text for ch in "\r\n\x00\x0b\x0c\x85\u2028\u2029")
        assert compose.header_text(text, limit=250) == text
        assert str(default.header_factory("subject", text)) == text

    def test_an_encoding_deeper_than_the_rounds_is_broken_up(self) -> None:
        """CWE-93 / CVE-2024-6923 class: a value encoded more often than header_text decodes is
        left encoded, but no longer as an encoded-word, so the registry cannot decode it."""
        nested = HEADER
        for level in range(compose.MAX_DECODE_ROUNDS + 3):
            nested = q(nested) if level % 2 else b(nested)

        text = compose.header_text(nested, limit=2000)

        assert not re.search(r"=\?.*\?=", text)
        assert_untouched(subject_mail(nested))

    def test_plain_text_is_kept_as_it_is(self) -> None:
        """Regression guard for the fix: ordinary subjects, non-ASCII included, are not changed."""
        for subject in ["Printer on fire", "Is 2+2=? Four.", "Grüße aus Köln — 日本語", "a_b = c?"]:
            assert compose.header_text(subject, limit=250) == subject
            assert str(subject_mail(subject)["Subject"]) == subject

    def test_a_very_long_value_is_cut_to_the_limit(self) -> None:
        """CWE-400 / CWE-93: a megabyte of encoded-words costs no more than its first characters
        and yields at most `limit` characters of one line."""
        huge = (q(HEADER) + " ") * 40_000

        text = compose.header_text(huge, limit=250)

        assert len(text) <= 250 and "\n" not in text
        assert_untouched(subject_mail(huge))

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        st.lists(
            st.sampled_from(PIECES) | st.text(max_size=4),
            max_size=40,
        ).map("".join),
        st.integers(min_value=1, max_value=300),
    )
    def test_any_mix_of_encoded_word_pieces_stays_one_line(self, value: str, limit: int) -> None:
        """CWE-93 / CVE-2024-6923 class, fuzzed: whatever the pieces, the text is one line within
        the limit, idempotent, and a mail with it as Subject and display name reads back whole."""
        text = compose.header_text(value, limit=limit)

        assert len(text) <= limit and not any(ch in text for ch in "\r\n\x00\x85\u2028")
        assert compose.header_text(text, limit=limit) == text
        assert_untouched(subject_mail(value, name=value))


class TestDisplayNames:
    @pytest.mark.parametrize(
        "name",
        [
            q("Ann" + HEADER),
            b(q("Ann" + HEADER + BODY)),
            f'"{q(HEADER)}"',
            f"Ann{q(HEADER)}",
            "Ann\r\nBcc: attacker@evil.test",
            "Ann\u2028Bcc: attacker@evil.test",
        ],
        ids=["Q-encoded", "double-encoded with body", "inside quotes", "glued", "raw CRLF", "U+2028"],
    )
    def test_an_encoded_word_in_a_name_adds_no_header(self, name: str) -> None:
        """CWE-93 / CVE-2024-6923 class: the registry decodes encoded-words inside display names
        and quoted strings of an address header too."""
        assert_untouched(subject_mail("Hello", name=name))

    @pytest.mark.parametrize(
        "name",
        [
            f"Smith, John <{ATTACKER}>",
            f'"Boss" <{ATTACKER}>, Ann',
            f"Ann, {ATTACKER}, " + "padding " * 12,
            'O"Brien \\ "quoted", (comment) [x]; y: z@w',
            "Smith, John " + "x" * 180,
        ],
        ids=["angle brackets", "quotes and comma", "long name with a comma", "every special", "folded"],
    )
    def test_quotes_brackets_and_commas_in_a_name_add_no_recipient(self, name: str) -> None:
        """CWE-93 / address-list injection: a name that looks like more addresses stays one
        name, also when it is long enough to be folded (the stdlib drops the quotes of a folded
        quoted string, which turns `"Smith, John …"` into two addresses)."""
        parsed = subject_mail("Hello", name=name)

        assert_untouched(parsed)
        [to] = parsed["To"].addresses
        assert "".join(to.display_name.split()) == "".join(
            compose.address("a@b.example", name).display_name.split()
        )

    @pytest.mark.parametrize(
        "email",
        [
            f"=?utf-8?q?x=0D=0ABcc=3A_{ATTACKER.replace('@', '=40')}?=@evil.test",
            "ann@=?utf-8?q?x=0D=0ABcc=3A_v=40evil.test?=",
            "jörg@example.com",
            f"ann@example.com\r\nBcc: {ATTACKER}",
            f"ann@example.com, {ATTACKER}",
        ],
        ids=["encoded local part", "encoded domain", "non-ASCII", "raw CRLF", "two addresses"],
    )
    def test_an_address_that_would_decode_or_split_is_refused(self, email: str) -> None:
        """CWE-93 / CVE-2024-6923 class: the registry decodes an encoded-word even inside the
        local part or the domain of an address, so such an address is never sent to."""
        with pytest.raises(compose.InvalidAddress):
            compose.address(email, "Ann")


class TestMessageIds:
    @pytest.mark.parametrize(
        "value",
        [
            f"<x@y.example>\r\nBcc: {ATTACKER}",
            "<=?utf-8?q?x=0D=0ABcc:_attacker@evil.test?=@y.example>",
            "=?utf-8?q?=0D=0ABcc:_attacker@evil.test?=",
            "<x@y.example> (a comment\r\n with a break)",
        ],
        ids=["raw CRLF", "encoded-word inside", "encoded-word alone", "comment"],
    )
    def test_a_hostile_in_reply_to_keeps_only_a_well_formed_id(self, value: str) -> None:
        """CWE-93: Message-IDs we repeat come from mail we received; In-Reply-To and References
        are unstructured headers to the registry, so only `<id@domain>` tokens are kept."""
        mail = compose.compose(
            sender=SENDER,
            to=[compose.address("ann@example.com", "Ann")],
            subject="Hello",
            text="The real body.",
            html="<p>The real body.</p>",
            message_id=ids.plain_message_id("help.example.com"),
            in_reply_to=value,
            references=[value],
        )
        parsed = message_from_bytes(mail.raw, policy=default)

        assert parsed["Bcc"] is None
        for name in ("In-Reply-To", "References"):
            assert str(parsed[name] or "") in ("", "<x@y.example>")


class TestSelfCheck:
    def unsafe_mail(self, subject: str) -> EmailMessage:
        """A mail built the way the stdlib allows, without header_text."""
        mail = EmailMessage(policy=SMTP)
        mail["From"] = SENDER
        mail["To"] = Address("Ann", "ann", "example.com")
        mail["Subject"] = subject
        mail.set_content("The real body.")
        return mail

    def test_a_mail_whose_serialised_headers_differ_is_refused(self) -> None:
        """CVE-2024-6923 class, defence in depth: whatever slips past header_text still cannot
        leave compose, since the mail read back has a header it did not set."""
        with pytest.raises(compose.UnsafeMail, match="headers"):
            compose.check_round_trip(self.unsafe_mail(q(HEADER)), text="The real body.", html=None)

    def test_a_mail_whose_body_is_replaced_is_refused(self) -> None:
        """CWE-93 body injection: a blank line decoded into a header ends the headers there."""
        with pytest.raises(compose.UnsafeMail):
            compose.check_round_trip(self.unsafe_mail(q("x" + BODY)), text="The real body.", html=None)

    def test_a_safe_mail_passes(self) -> None:
        """CVE-2024-6923 class, the other side: the check refuses only what changed."""
        compose.check_round_trip(self.unsafe_mail("Hello"), text="The real body.", html=None)


# --- every mail the app sends, with hostile data in every field that reaches a header ------------


@pytest.fixture
def mail_without_smtp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Our From address on help.example.com, no SMTP server: every mail stays in the log, raw,
    as it would have been sent (account mail's body is dropped only once delivered)."""
    monkeypatch.setenv("TICKETRY_MAIL_FROM", f"Example Support <{SUPPORT}>")
    monkeypatch.setenv("TICKETRY_STORAGE_URL", str(tmp_path / "files"))
    monkeypatch.delenv("TICKETRY_SMTP_HOST", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


# A value per field, each a different vector; all fit their columns.
TITLE = "Printer " + q(SHORT) + " " + b(q("\r\n\r\nPhish"))
CUSTOMER = f'Carla "Boss" <{ATTACKER}>, ' + q("x" + HEADER)
ASSIGNEE = q(b(q("Ann" + SHORT)))
ADMIN = b("Root" + HEADER + BODY)
DEPARTMENT = "Tech " + q(SHORT)
ORGANIZATION = b(q("Org" + SHORT + "\r\n\r\nPhish"))
# Stored with raw breaks (rows written before input checks, or by an import): set with SQL.
RAW_NAME = f"Walter\r\nBcc: {ATTACKER}\u2028X-Sep: 1\x85X-Nel: 1\x0bX-Vt: 1"
RAW_TITLE = f"Refund\r\n\r\nYour account is locked. Log in at https://evil.test/login\r\nBcc: {ATTACKER}"
# A received mail whose Subject and sender name were encoded twice: decoded once on the way in,
# they are encoded-words in the ticket's title and the customer's name.
MAIL_SUBJECT = b(q("Invoice" + HEADER + BODY))
MAIL_NAME = b(q("Eve" + HEADER))

NOTIFICATION_HEADERS = Counter([*BASE_HEADERS, "reply-to"])
THREADING = Counter(["in-reply-to", "references"])
# Every account mail: the purposes `auth.mail` names (a new one fails the test until covered).
ACCOUNT_PURPOSES = {
    value
    for key, value in vars(account_mail).items()
    if key.isupper() and isinstance(value, str) and not key.endswith("_JOB")
}


def hostile_person(db: Database, role: Role, name: str, *, organization_id: int | None = None) -> Persona:
    return make_user(db, role=role, name=name, departments=("hostile",), organization_id=organization_id)


def set_row(db: Database, model: type[User] | type[Ticket], row_id: int, **values: str) -> None:
    with db.unit_of_work() as session:
        session.execute(update(model).where(model.id == row_id).values(**values))


def received_mail(subject: str, sender: str) -> bytes:
    """A mail as a customer's client sends it, headers written as bytes (not through the stdlib,
    which would decode them once more)."""
    headers = [
        f"From: {sender}",
        f"To: {SUPPORT}",
        f"Subject: {subject}",
        f"Date: {formatdate(usegmt=True)}",
        "Message-ID: <hostile-1@customer.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    return ("\r\n".join(headers) + "\r\n\r\nMy invoice is wrong.\r\n").encode()


def to_resolved(db: Database, admin: Persona, ticket_id: int) -> None:
    with db.unit_of_work(write=False) as session:
        status = session.scalars(select(Ticket.status).where(Ticket.id == ticket_id)).one()
    if status is not TicketStatus.IN_PROGRESS:
        set_status(db, admin, ticket_id, "in_progress")
    set_status(db, admin, ticket_id, "resolved")


def outbound(db: Database) -> list[MailLog]:
    with db.unit_of_work(write=False) as session:
        return list(session.scalars(select(MailLog).order_by(MailLog.id)))


def send_every_kind_of_mail(db: Database) -> None:
    """Each notification kind and each account mail, through the services and the job handlers,
    with hostile text in every field that reaches a header (and the body's fields too)."""
    with db.unit_of_work() as session:
        users.create_department(session, slug="hostile", name=DEPARTMENT)
        organization = users.create_organization(session, name=ORGANIZATION, shared=True).id
    customer = hostile_person(db, Role.CUSTOMER, CUSTOMER, organization_id=organization)
    other_customer = hostile_person(db, Role.CUSTOMER, CUSTOMER + " 2")
    assignee = hostile_person(db, Role.AGENT, ASSIGNEE)
    watcher = hostile_person(db, Role.AGENT, "Walter")
    set_row(db, User, watcher.id, name=RAW_NAME)
    admin = make_admin(db)
    set_row(db, User, admin.id, name=ADMIN)
    with db.unit_of_work() as session:
        users.mark_all_verified(session)  # names are shown in account mail once the address is proven
    run_jobs(db)

    # ticket_received, new_ticket
    ticket = make_ticket(db, customer, title=TITLE, department="hostile")
    run_jobs(db)
    # assigned_to_me, watched_ticket
    watch(db, ticket.id, watcher)
    assign(db, admin, ticket.id, assignee)
    run_jobs(db)
    # staff_reply, then customer_reply
    make_message(db, assignee, ticket.id, body="We are on it.")
    run_jobs(db)
    make_message(db, customer, ticket.id, body="Thanks!")
    run_jobs(db)
    # ticket_resolved, ticket_closed
    to_resolved(db, admin, ticket.id)
    run_jobs(db)
    set_status(db, admin, ticket.id, "closed")
    run_jobs(db)

    # A ticket by mail, with a Subject and a name encoded twice.
    inbox: Inbox = make_mailbox(db, department="hostile")
    created = inbox.receive(received_mail(MAIL_SUBJECT, f"{MAIL_NAME} <eve@customer.example>"))
    assert created.status is MailStatus.CREATED_TICKET, created.reason
    assert created.ticket_id is not None

    # ticket_merged: another customer's ticket (title with raw breaks) merged into the mailed one.
    duplicate = make_ticket(db, other_customer, title="Refund", department="hostile")
    set_row(db, Ticket, duplicate.id, title=RAW_TITLE)
    run_jobs(db)
    with db.unit_of_work() as session:
        merges.merge_tickets(
            session, admin.actor, created.ticket_id, [duplicate.id], confirm_different_customers=True
        )
    run_jobs(db)

    # Account mail: password reset, e-mail verification, sign-up (new and existing address).
    unverified = make_user(db, role=Role.CUSTOMER, name=CUSTOMER + " 3")
    with db.unit_of_work() as session:
        account_mail.send_password_reset(session, customer.email)
        user = session.get(User, unverified.id)
        assert user is not None
        account_mail.send_verification(session, user)
        signup.request_signup(session, email="newcomer@customer.example", ip="192.0.2.1")
        signup.request_signup(session, email=customer.email, ip="192.0.2.2")
    run_jobs(db)


class TestEveryMailWeSend:
    def test_every_kind_has_exactly_its_headers_whatever_the_data(
        self, db: Database, mail_without_smtp: None
    ) -> None:
        """CWE-93 CRLF injection / CVE-2024-6923 class, route-derived: every notification kind
        (the `Kind` enum) and every account mail is composed through the real code paths with
        hostile titles, names, department and organization names and a twice-encoded Subject
        received by mail. Each mail, parsed back by the stdlib parser, has exactly the headers
        its kind sets, one recipient, no line break in any value, and its own body."""
        send_every_kind_of_mail(db)
        log = outbound(db)
        sent = [entry for entry in log if entry.direction is Direction.OUTBOUND]

        assert {entry.purpose for entry in sent} >= {kind.value for kind in Kind} | ACCOUNT_PURPOSES, (
            "a kind of mail is not covered by this test"
        )
        for entry in sent:
            assert entry.raw is not None, entry.purpose
            parsed = message_from_bytes(entry.raw, policy=default)
            assert isinstance(parsed, EmailMessage)
            names = Counter(name.lower() for name in parsed)
            if entry.ticket_id is None:
                assert names == Counter(BASE_HEADERS), entry.purpose
            else:
                root = self.thread_root(log, entry)
                expected = NOTIFICATION_HEADERS + (THREADING if root else Counter())
                assert names == expected, entry.purpose
                assert parsed["In-Reply-To"] == root
            for name, value in parsed.items():
                assert "\r" not in str(value) and "\n" not in str(value), (entry.purpose, name)
            assert [a.addr_spec for a in parsed["To"].addresses] == [entry.recipients]
            self.assert_body_intact(parsed, entry)

    @staticmethod
    def thread_root(log: list[MailLog], entry: MailLog) -> str | None:
        """The first mail of the entry's ticket before it, as `notifier.thread_root` finds it."""
        for earlier in log:
            if earlier.id >= entry.id:
                return None
            threads = earlier.direction is Direction.OUTBOUND or earlier.status in (
                MailStatus.CREATED_TICKET,
                MailStatus.APPENDED,
            )
            if earlier.ticket_id == entry.ticket_id and threads and earlier.message_id_header:
                return earlier.message_id_header
        return None

    @staticmethod
    def assert_body_intact(parsed: EmailMessage, entry: MailLog) -> None:
        assert parsed.get_content_type() == "multipart/alternative", entry.purpose
        parts = list(parsed.iter_parts())
        assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"], entry.purpose
        plain, html = (part.get_content() for part in parts)
        assert plain.startswith("Hello"), (entry.purpose, plain[:200])
        assert plain.rstrip().endswith(("in your account.", "— Ticketry")), (entry.purpose, plain[-200:])
        assert html.rstrip().endswith("</html>"), entry.purpose


# --- no automatic mail to addresses nobody reads (issue 12 item 10) ------------------------------


class TestUnattendedAddresses:
    @pytest.mark.parametrize(
        "address",
        [
            "noreply@vendor.example",
            "no-reply@vendor.example",
            "No_Reply@vendor.example",
            "do-not-reply@vendor.example",
            "DoNotReply@vendor.example",
            "notifications-noreply@vendor.example",
            "noreply+billing@vendor.example",
            "noreply123@vendor.example",
            "MAILER-DAEMON@mx.vendor.example",
            "postmaster@vendor.example",
            "bounce@vendor.example",
            "bounces+123-abc@lists.vendor.example",
            "Vendor <no-reply@vendor.example>",
        ],
    )
    def test_machine_addresses_are_unattended(self, address: str) -> None:
        """Mail loop / backscatter (RFC 3834 §2): a receipt to these only bounces or loops."""
        assert is_unattended(address)

    @pytest.mark.parametrize(
        "address",
        ["carla@customer.example", "reply@vendor.example", "bouncer@club.example", "noreplyguy@x.example"],
    )
    def test_people_are_not(self, address: str) -> None:
        """Mail loop / backscatter, the other side: people (and look-alike words) keep their mail."""
        assert not is_unattended(address)

    def test_a_ticket_from_a_noreply_sender_gets_no_receipt(
        self, db: Database, mail_without_smtp: None
    ) -> None:
        """Mail loop / backscatter class: a vendor's `noreply@` system mail opens a ticket (staff
        hear of it), but no receipt is queued to an address nobody reads."""
        agent = make_agent(db)
        inbox = make_mailbox(db, department="technical")

        entry = inbox.receive(received_mail("Your invoice 4711", "Vendor Billing <noreply@vendor.example>"))

        assert entry.status is MailStatus.CREATED_TICKET and entry.ticket_id is not None
        sent = [e for e in outbound(db) if e.direction is Direction.OUTBOUND]
        assert [(e.purpose, e.recipients) for e in sent] == [(Kind.NEW_TICKET.value, agent.email)]
