"""Building mail (compose) and our signed ids (ids): pure functions, no database."""

from __future__ import annotations

from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ticketry.mail.outbound import compose, ids

SECRET = "test-secret-key"
SENDER = compose.parse_from("Ticketry Support <support@help.example.com>")


def _mail(**overrides: object) -> compose.Composed:
    fields: dict[str, object] = {
        "sender": SENDER,
        "to": [compose.address("ann@example.com", "Ann")],
        "subject": "Hello",
        "text": "Plain body",
        "html": "<p>HTML body</p>",
        "message_id": ids.plain_message_id("help.example.com"),
    }
    fields.update(overrides)
    return compose.compose(**fields)  # type: ignore[arg-type]


def _reparsed(mail: compose.Composed) -> EmailMessage:
    parsed = message_from_bytes(mail.raw, policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


class TestHeaderInjection:
    @pytest.mark.parametrize(
        "evil", ["Hi\r\nBcc: victim@example.org", "Hi\nBcc: victim@example.org", "Hi\rBcc: x@y"]
    )
    def test_a_subject_cannot_add_a_header(self, evil: str) -> None:
        parsed = _reparsed(_mail(subject=evil))

        assert parsed["Bcc"] is None
        assert "\n" not in str(parsed["Subject"]) and "\r" not in str(parsed["Subject"])
        assert str(parsed["Subject"]).startswith("Hi Bcc:")

    def test_a_display_name_cannot_add_a_header(self) -> None:
        to = compose.address("ann@example.com", "Ann\r\nBcc: victim@example.org")

        parsed = _reparsed(_mail(to=[to]))

        assert parsed["Bcc"] is None
        assert [a.addr_spec for a in parsed["To"].addresses] == ["ann@example.com"]

    @pytest.mark.parametrize(
        "address",
        [
            "ann@example.com\r\nBcc: victim@example.org",
            "ann@example.com>, victim@example.org",
            "ann@example.com, victim@example.org",
            "no-at-sign",
            "@example.com",
            "ann@",
        ],
    )
    def test_an_address_that_smuggles_more_is_refused(self, address: str) -> None:
        with pytest.raises(compose.InvalidAddress):
            compose.address(address, "Ann")


class TestCompose:
    def test_automatic_mail_says_so(self) -> None:
        parsed = _reparsed(_mail())

        assert parsed["Auto-Submitted"] == "auto-replied"
        assert parsed["X-Auto-Response-Suppress"] == "All"

    def test_a_personal_mail_is_not_marked_automatic(self) -> None:
        assert _reparsed(_mail(automatic=False))["Auto-Submitted"] is None

    def test_threading_headers(self) -> None:
        first = ids.message_id(SECRET, "help.example.com", ticket_id=4, message_id=1)
        second = ids.message_id(SECRET, "help.example.com", ticket_id=4, message_id=2)

        parsed = _reparsed(_mail(in_reply_to=second, references=[first, second]))

        assert parsed["In-Reply-To"] == second
        assert str(parsed["References"]).split() == [first, second]

    def test_only_well_formed_message_ids_are_repeated(self) -> None:
        parsed = _reparsed(
            _mail(
                in_reply_to="not an id",
                references=["<a.1@x.example> junk <b@[127.0.0.1]>", "<a.1@x.example>"],
            )
        )

        assert parsed["In-Reply-To"] is None
        assert str(parsed["References"]).split() == ["<a.1@x.example>", "<b@[127.0.0.1]>"]

    def test_a_malformed_own_message_id_is_refused(self) -> None:
        with pytest.raises(ValueError, match="not a Message-ID"):
            _mail(message_id="<a@b.example>\r\nBcc: x@y.example")

    def test_text_and_html_alternatives(self) -> None:
        parsed = _reparsed(_mail())

        assert parsed.get_content_type() == "multipart/alternative"
        plain = parsed.get_body(preferencelist=("plain",))
        rich = parsed.get_body(preferencelist=("html",))
        assert plain is not None and rich is not None
        assert plain.get_content().strip() == "Plain body"
        assert rich.get_content().strip() == "<p>HTML body</p>"


def _lines(text: str) -> list[str]:
    """The lines of a body as a recipient reads them: CR, LF and CR LF end a line (an empty
    body is sent as one empty line)."""
    return [line.decode() for line in text.encode().splitlines()] or [""]


# Text that tests the encoder: every kind of line end, `=` and `--` (QP's escape and MIME's
# delimiter), long lines, trailing spaces and dots, non-ASCII (with the Unicode line separators).
_BODY = st.text(
    st.sampled_from(["a", "Z", " ", "=", "-", ".", "\t", "\r", "\n", "é", "€", "\u2028", "日", "\x85", "_"]),
    max_size=400,
) | st.text(max_size=300)


class TestBytes:
    """The mail is put together as bytes (`Shared.build`); the stdlib's own parser is the judge."""

    @settings(max_examples=300, deadline=None)
    @given(text=_BODY, html=_BODY, name=st.text(max_size=80))
    def test_the_bodies_read_back_as_given(self, text: str, html: str, name: str) -> None:
        mail = _mail(text=text, html="<p>" + html, to=[compose.address("ann@example.com", name)])
        parsed = _reparsed(mail)

        assert parsed.defects == []
        plain, rich = parsed.iter_parts()
        assert [plain.get_content_type(), rich.get_content_type()] == ["text/plain", "text/html"]
        assert _lines(plain.get_content()) == _lines(text)
        assert _lines(rich.get_content()) == _lines("<p>" + html)
        assert [a.addr_spec for a in parsed["To"].addresses] == ["ann@example.com"]
        for line in mail.raw.split(b"\r\n"):
            assert len(line) <= 998 and b"\r" not in line and b"\n" not in line
            assert line.isascii()

    def test_a_text_only_mail_is_one_part(self) -> None:
        parsed = _reparsed(_mail(html=None, text="Just text.\n"))

        assert parsed.get_content_type() == "text/plain"
        assert _lines(parsed.get_content()) == ["Just text."]

    def test_short_ascii_lines_are_sent_as_they_are(self) -> None:
        raw = _mail(text="Plain body\nline two").raw

        assert b"Content-Transfer-Encoding: 7bit\r\n\r\nPlain body\r\nline two\r\n" in raw

    def test_the_batch_shares_what_it_can_and_checks_each_mail(self) -> None:
        """Each recipient's own headers; the shared ones serialised once, the same in every mail."""
        shared = compose.Shared(sender=SENDER, subject="Ticket [TICK-1] café")
        made = [
            shared.build(
                to=[compose.address(f"agent{n}@example.com", f"Agent {n} Zoë")],
                text=f"Hello Agent {n}",
                html=f"<p>Hello Agent {n}</p>",
                message_id=ids.plain_message_id("help.example.com"),
            )
            for n in range(3)
        ]
        parsed = [_reparsed(mail) for mail in made]

        assert [str(p["To"]) for p in parsed] == [f"Agent {n} Zoë <agent{n}@example.com>" for n in range(3)]
        assert {str(p["Subject"]) for p in parsed} == {"Ticket [TICK-1] café"}
        assert len({str(p["Message-ID"]) for p in parsed}) == 3
        assert [next(p.iter_parts()).get_content().strip() for p in parsed] == [
            f"Hello Agent {n}" for n in range(3)
        ]

    def test_a_body_holding_the_boundary_is_refused(self) -> None:
        shared = compose.Shared(sender=SENDER, subject="Hello")
        boundary = shared._boundary.decode()

        with pytest.raises(compose.UnsafeMail, match="boundary"):
            shared.build(
                to=[compose.address("ann@example.com")],
                text=f"--{boundary}\nContent-Type: text/html\n\n<script>",
                html="<p>x</p>",
                message_id=ids.plain_message_id("help.example.com"),
            )


class TestIds:
    def test_message_id_round_trip(self) -> None:
        value = ids.message_id(SECRET, "help.example.com", ticket_id=42, message_id=7)

        assert ids.ticket_in_message_id(SECRET, value) == (42, 7)

    def test_message_ids_are_unique(self) -> None:
        made = {ids.message_id(SECRET, "h.example", ticket_id=1) for _ in range(50)}

        assert len(made) == 50

    def test_a_tampered_message_id_is_rejected(self) -> None:
        value = ids.message_id(SECRET, "help.example.com", ticket_id=42, message_id=7)

        assert ids.ticket_in_message_id(SECRET, value.replace(".t42.", ".t43.")) is None
        assert ids.ticket_in_message_id("another-secret", value) is None

    def test_reply_address_round_trip(self) -> None:
        address = ids.reply_address(SECRET, "Support <support@help.example.com>", ticket_id=42)

        assert address.startswith("support+t42.") and address.endswith("@help.example.com")
        assert ids.ticket_in_reply_address(SECRET, f"Ann <{address}>") == 42

    def test_reply_address_per_recipient_round_trip(self) -> None:
        address = ids.reply_address(SECRET, "Support <support@help.example.com>", ticket_id=42, user_id=7)

        assert address.startswith("support+t42.u7.") and address.endswith("@help.example.com")
        assert ids.reply_tag(SECRET, f"Ann <{address}>") == ids.ReplyTag(42, 7)
        assert ids.ticket_in_reply_address(SECRET, address) == 42
        assert ids.reply_tag(SECRET, address.replace(".u7.", ".u8.")) is None

    def test_a_tampered_reply_address_is_rejected(self) -> None:
        address = ids.reply_address(SECRET, "support@help.example.com", ticket_id=42)
        local, _, domain = address.partition("@")
        signature = local.rpartition(".")[2]

        assert ids.ticket_in_reply_address(SECRET, f"support+t43.{signature}@{domain}") is None
        assert ids.ticket_in_reply_address("another-secret", address) is None
        assert ids.ticket_in_reply_address(SECRET, "support@help.example.com") is None

    def test_domain_of_the_from_address(self) -> None:
        assert ids.domain_of("Support <Help@Example.COM>") == "example.com"
        assert ids.plain_message_id("example.com").endswith("@example.com>")
