"""Who a mail is from when its header section bends the rules (issue 14 A.5; docs/product.md §4, mail in):
comments inside addresses, a From with two authors, no From but a Sender or Reply-To, two From
headers, a From after a line that is no header field. The sender is chosen as the stdlib's parser
and mail clients read it, the oddity is said in the mail's problems, and the identity rules of
issue 12 hold: a second author, an encoded word, a percent, a look-alike letter or a NUL never
makes a mail speak for someone the reader of the mail would not see in its From.

Fixtures: tests/mail/real_world/sender_*.eml.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.factories import Persona, make_agent, make_customer, make_ticket
from tests.mail.inbound import Inbox, mail_settings, make_mailbox, run_jobs
from tests.mailserver import MailServer
from ticketry.core.config import get_settings
from ticketry.core.db import Database
from ticketry.mail.log.models import MailStatus
from ticketry.mail.outbound import ids
from ticketry.mailparse.decode import read_header_section
from ticketry.mailparse.parse import MAX_PROBLEMS, parse
from ticketry.mailparse.senders import choose_sender
from ticketry.messages.models import Message
from ticketry.tickets.models import Ticket
from ticketry.users.models import Role, User

__all__ = ["mail_settings"]

REAL_WORLD = Path(__file__).parent / "real_world"
MALLORY = "mallory@evil.example"


def fixture(name: str) -> bytes:
    return (REAL_WORLD / name).read_bytes()


def raw(*headers: str | bytes, body: str = "Please help.") -> bytes:
    """A raw mail of exactly these header lines (bytes kept as they are) and a plain body."""
    lines = [line if isinstance(line, bytes) else line.encode() for line in headers]
    lines += [b"Subject: Help", b"Content-Type: text/plain; charset=utf-8"]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body.encode()


def sender_of(data: bytes) -> tuple[str, str]:
    parsed = parse(data)
    return parsed.from_address, parsed.from_name


def user_by_email(db: Database, email: str) -> User | None:
    with db.unit_of_work(write=False) as session:
        return session.scalars(select(User).where(User.email == email)).one_or_none()


def ticket(db: Database, ticket_id: int | None) -> Ticket:
    with db.unit_of_work(write=False) as session:
        found = session.get(Ticket, ticket_id or 0)
        assert found is not None
        return found


def messages(db: Database, ticket_id: int) -> list[Message]:
    with db.unit_of_work(write=False) as session:
        query = select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id)
        return list(session.scalars(query))


def reply_address(target: Ticket, person: Persona | None = None) -> str:
    settings = get_settings()
    user_id = person.id if person is not None else None
    return ids.reply_address(settings.secret_key, settings.mail_from, ticket_id=target.id, user_id=user_id)


# --- choosing the sender ------------------------------------------------------------------------


class TestChoosingTheSender:
    @pytest.mark.parametrize(
        ("name", "address", "display", "problem"),
        [
            ("sender_comment_in_address.eml", "john@customer.example", "", None),
            ("sender_trailing_comment.eml", "john.miller@customer.example", "John Miller", None),
            ("sender_two_authors.eml", "bert@customer.example", "Bert Author", "Sender header names"),
            ("sender_reply_to_only.eml", "carla@customer.example", "Carla Form", "from its Reply-To"),
            ("sender_sender_only.eml", "dieter@customer.example", "Dieter Sender", "from its Sender"),
            ("sender_duplicate_from.eml", "eva@customer.example", "Eva Double", "3 From headers"),
            ("sender_after_malformed_line.eml", "frank@customer.example", "Frank Late", "was skipped"),
        ],
    )
    def test_each_fixture_has_the_sender_a_mail_client_shows(
        self, name: str, address: str, display: str, problem: str | None
    ) -> None:
        parsed = parse(fixture(name))

        assert (parsed.from_address, parsed.from_name) == (address, display)
        if problem is None:
            assert parsed.problems == ()
        else:
            assert any(problem in said for said in parsed.problems), parsed.problems

    @pytest.mark.parametrize(
        ("from_", "address", "display"),
        [
            # RFC 5322 appendix A.5, comments everywhere
            (
                r"Pete(A nice \) chap) <pete(his account)@silly.example(his host)>",
                "pete@silly.example",
                "Pete",
            ),
            ("<john@example.org> (c (nested) d)", "john@example.org", ""),
            ("jane@example.org ((Jane) Doe)", "jane@example.org", "(Jane) Doe"),
            ("jane(x)(y)@example.org", "jane@example.org", ""),
            ("john @ example.org", "john@example.org", ""),
            ("John <john (at home) @ example.org>", "john@example.org", "John"),
            ("Team(ours):Chris <c@(host)example.org>;", "c@example.org", "Chris"),
        ],
    )
    def test_comments_and_white_space_in_addresses(self, from_: str, address: str, display: str) -> None:
        assert sender_of(raw(f"From: {from_}")) == (address, display)

    def test_reply_to_never_outranks_a_usable_from(self) -> None:
        parsed = parse(raw("From: Anna <anna@example.org>", "Reply-To: other@example.org"))

        assert parsed.from_address == "anna@example.org"
        assert parsed.reply_to == ("other@example.org",)
        assert parsed.problems == ()

    def test_a_sender_who_is_not_one_of_the_authors_is_not_taken(self) -> None:
        parsed = parse(raw("From: a@example.org, b@example.org", "Sender: secretary@example.org"))

        assert parsed.from_address == "a@example.org"
        assert "the first, a@example.org, was taken" in parsed.problems[0]

    def test_a_from_without_an_address_falls_back_to_the_sender_and_says_so(self) -> None:
        parsed = parse(raw("From: undisclosed sender", "Sender: b@example.org", "Reply-To: c@example.org"))

        assert parsed.from_address == "b@example.org"
        assert parsed.problems == (
            "The mail has no usable From address; the sender b@example.org was taken from its Sender header",
        )

    def test_with_nothing_usable_there_is_no_sender(self) -> None:
        parsed = parse(raw("From: nobody", "Reply-To: <>"))

        assert parsed.from_address == ""

    def test_a_line_that_is_no_field_without_a_field_after_it_begins_the_body(self) -> None:
        """The stdlib's rule, kept: a body that begins without its blank line stays the body."""
        parsed = parse(b"From: a@example.org\r\nSubject: s\r\nHello team,\r\nNote: the printer\r\n\r\nmore")

        assert parsed.text.startswith("Hello team,\nNote: the printer")
        assert parsed.header("Note") is None
        assert parsed.problems == ()

    def test_several_malformed_lines_are_skipped_and_counted(self) -> None:
        parsed = parse(
            raw(b"X-A: 1", b"junk one", b"To: s@example.org", b":no name", b"From: late@example.org")
        )

        assert parsed.from_address == "late@example.org"
        assert parsed.to == ("s@example.org",)
        assert parsed.problems[0].startswith("2 lines in the headers were not header fields and were skipped")

    def test_the_mail_logs_sender_column_agrees_with_the_parser(self) -> None:
        for name in (
            "sender_reply_to_only.eml",
            "sender_duplicate_from.eml",
            "sender_after_malformed_line.eml",
        ):
            data = fixture(name)  # the log's column is written on receipt, before any parse
            assert choose_sender(read_header_section(data)).address == parse(data).from_address


class TestHostileHeaders:
    """The new readings (nested comments, skipped lines, several From headers) stay linear."""

    @pytest.mark.parametrize(
        ("data", "address"),
        [
            (b"From: " + b"(" * 60_000 + b"a@example.org", ""),
            (b"From: " + b"(a" * 30_000 + b")" * 30_000 + b" a@example.org", ""),
            (b"From: " + b"a(b)" * 16_000 + b"@example.org", "a" * 16_000 + "@example.org"),
            (b"From: <" + b"(" * 60_000 + b">", ""),
            (b"X-A: 1\r\n" + b"junk\r\nX-A: 1\r\n" * 70_000 + b"From: a@example.org", "a@example.org"),
            (b"From: x\r\n" * 100_000 + b"Sender: a@example.org", "a@example.org"),
            (b"From: " + b"\x00@example.org, " * 3_000 + b"a@example.org", "a@example.org"),
        ],
        ids=[
            "open comments",
            "nested comments",
            "many comments",
            "angle of comments",
            "junk lines",
            "From headers",
            "refusals",
        ],
    )
    def test_a_hostile_header_section_is_read_in_time(self, data: bytes, address: str) -> None:
        started = time.process_time()

        parsed = parse(data + b"\r\nSubject: x\r\n\r\nbody")

        assert time.process_time() - started < 3.0
        assert parsed.from_address == address
        assert len(parsed.problems) <= MAX_PROBLEMS


# --- forged identities --------------------------------------------------------------------------


class TestEncodedAddresses:
    """What a mail client shows is the identity; a variant that reads as another address once
    decoded, lower-cased or stripped of an invisible character is no address at all."""

    def test_an_encoded_word_never_becomes_an_address(self) -> None:
        assert sender_of(raw("From: =?utf-8?q?agent=40help.example.com?= <mallory@evil.example>")) == (
            MALLORY,
            "agent@help.example.com",
        )
        assert sender_of(raw("From: =?utf-8?b?YWdlbnRAaGVscC5leGFtcGxlLmNvbQ==?="))[0] == ""
        assert sender_of(raw("From: =?utf-8?q?agent?=@help.example.com"))[0] == ""
        assert sender_of(raw("From: <=?utf-8?q?agent=40help.example.com?=>"))[0] == ""

    def test_a_percent_stays_a_percent(self) -> None:
        percent = "agent%help.example.com@evil.example"
        assert sender_of(raw(f"From: {percent}"))[0] == percent
        assert sender_of(raw("From: agent%40help.example.com"))[0] == ""

    def test_a_letter_that_lower_cases_into_ascii_is_refused(self) -> None:
        parsed = parse(raw("From: \u212aarl@customer.example".encode()))  # KELVIN SIGN, shown as K

        assert parsed.from_address == ""
        assert "reads as another once lower-cased" in parsed.problems[0]

    def test_look_alike_letters_stay_what_they_are(self) -> None:
        # CYRILLIC SMALL LETTER A: another address, as in the mail client; lower-cased, not folded
        assert (
            sender_of(raw("From: \u0430gent@help.example.com".encode()))[0] == "\u0430gent@help.example.com"
        )
        assert (
            sender_of(raw("From: \uff21gent@help.example.com".encode()))[0] == "\uff41gent@help.example.com"
        )

    @pytest.mark.parametrize(
        "value",
        [b"jo\x00hn@customer.example", b"john\xe2\x80\x8b@customer.example", b"jo\x07hn@customer.example"],
        ids=["nul", "zero-width space", "bell"],
    )
    def test_an_invisible_character_makes_no_address(self, value: bytes) -> None:
        parsed = parse(raw(b"From: " + value, b"Reply-To: mallory@evil.example"))

        assert parsed.from_address == "mallory@evil.example"
        assert "has a character mail clients do not show" in parsed.problems[0]


# --- end to end ---------------------------------------------------------------------------------


class TestIngest:
    @pytest.mark.parametrize(
        ("name", "customer", "title"),
        [
            (
                "sender_comment_in_address.eml",
                "john@customer.example",
                "Invoice 4471 is missing its VAT line",
            ),
            ("sender_two_authors.eml", "bert@customer.example", "Joint request: access for the new team"),
            ("sender_reply_to_only.eml", "carla@customer.example", "Contact form: the login page is blank"),
            ("sender_sender_only.eml", "dieter@customer.example", "Scanner sends empty pages"),
            ("sender_duplicate_from.eml", "eva@customer.example", "Password reset does not arrive"),
            ("sender_after_malformed_line.eml", "frank@customer.example", "Export to CSV hangs"),
        ],
    )
    def test_the_ticket_lands_on_the_customer_the_mail_is_from(
        self, db: Database, mail_settings: MailServer, name: str, customer: str, title: str
    ) -> None:
        entry = make_mailbox(db).receive(fixture(name))

        assert entry.status is MailStatus.CREATED_TICKET, entry.reason
        assert entry.sender == customer
        user = user_by_email(db, customer)
        assert user is not None and user.role is Role.CUSTOMER
        opened = ticket(db, entry.ticket_id)
        assert (opened.customer_id, opened.title) == (user.id, title)
        assert opened.description.strip() == parse(fixture(name)).reply_text
        assert entry.problems == list(parse(fixture(name)).problems)
        assert user_by_email(db, MALLORY) is None

    def test_a_reply_with_a_comment_in_the_address_joins_the_customers_ticket(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        inbox = make_mailbox(db)
        first = inbox.receive(fixture("sender_comment_in_address.eml"))
        reply = inbox.receive(
            raw(
                "From: John (finance) <john(work)@Customer.Example>",
                "In-Reply-To: <comment-in-address.1@customer.example>",
                body="The corrected invoice arrived, thanks.",
            )
        )

        assert reply.status is MailStatus.APPENDED and reply.ticket_id == first.ticket_id
        [message] = messages(db, first.ticket_id or 0)
        assert message.body.startswith("The corrected invoice arrived")
        assert message.author_id == ticket(db, first.ticket_id).customer_id


class TestForgedSecondAuthor:
    """A From that names an agent or the customer second, or a Sender that names them, gives the
    mail no more right to speak for them than a From of theirs alone (issue 12's rules)."""

    def scene(self, db: Database) -> tuple[Persona, Persona, Ticket, Inbox]:
        customer = make_customer(db)
        agent = make_agent(db)
        opened = make_ticket(db, customer, title="Printer on fire")
        run_jobs(db)
        with db.unit_of_work(write=False) as session:
            found = session.get(Ticket, opened.id)
            assert found is not None
        return customer, agent, found, make_mailbox(db)

    def test_an_agent_named_second_writes_no_note(self, db: Database, mail_settings: MailServer) -> None:
        _, agent, target, inbox = self.scene(db)
        entry = inbox.receive(
            raw(
                f"From: Mallory <{MALLORY}>, Agent <{agent.email}>",
                f"To: {reply_address(target, agent)}",
                f"Subject: Re: [{target.number}] refund approved",
                body="Refund approved.",
            )
        )

        assert entry.sender == MALLORY
        mallory = user_by_email(db, MALLORY)
        [held] = messages(db, target.id)
        assert mallory is not None and held.author_id == mallory.id != agent.id
        assert held.held_reason is not None, "a stranger's mail, shown to staff only"

    def test_a_sender_naming_the_agent_is_held_like_a_forged_from(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        _, agent, target, inbox = self.scene(db)
        entry = inbox.receive(
            raw(
                f"From: Mallory <{MALLORY}>, Agent <{agent.email}>",
                f"Sender: {agent.email}",
                f"Subject: Re: [{target.number}] refund approved",
                body="Refund approved.",
            )
        )

        assert entry.status is MailStatus.HELD and agent.email in entry.reason
        assert messages(db, target.id) == []

    def test_the_customer_named_second_does_not_post_as_the_customer(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        customer, _, target, inbox = self.scene(db)
        entry = inbox.receive(
            raw(
                f"From: {MALLORY}, {customer.email}",
                f"To: {reply_address(target, customer)}",
                body="Your verification code is 482910",
            )
        )

        assert entry.sender == MALLORY
        [held] = messages(db, target.id)
        assert held.held_reason is not None and held.author_id != customer.id

    def test_a_nul_in_the_customers_address_does_not_post_as_the_customer(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        customer, _, target, inbox = self.scene(db)
        local, _, domain = customer.email.partition("@")
        forged = f"From: {local[:3]}".encode() + b"\x00" + f"{local[3:]}@{domain}".encode()
        entry = inbox.receive(raw(forged, f"To: {reply_address(target)}"))

        assert entry.status is MailStatus.REJECTED and "no usable From" in entry.reason
        assert messages(db, target.id) == []

    def test_a_kelvin_sign_does_not_reach_karls_ticket(self, db: Database, mail_settings: MailServer) -> None:
        """U+212A KELVIN SIGN lower-cases to a Latin k: read as an address, it was Karl's."""
        inbox = make_mailbox(db)
        first = inbox.receive(
            raw("From: Karl <karl@customer.example>", "Message-ID: <karl.1@customer.example>")
        )
        assert first.status is MailStatus.CREATED_TICKET
        entry = inbox.receive(
            raw(
                "From: Karl <\u212aarl@customer.example>".encode(),
                b"In-Reply-To: <karl.1@customer.example>",
                body="Please send my invoices to mallory@evil.example from now on.",
            )
        )

        assert entry.status is MailStatus.REJECTED and entry.ticket_id is None
        assert messages(db, first.ticket_id or 0) == []
