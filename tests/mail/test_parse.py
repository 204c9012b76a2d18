"""Reading inbound mail (docs/product.md §4, mail in): the corpus of real-world shapes in tests/mail/corpus,
then charsets, headers, quote stripping, HTML, attachments and delivery reports one by one."""

from __future__ import annotations

import base64
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ticketry.mailparse.decode import decode_text
from ticketry.mailparse.htmlbody import html_to_text, sanitise_html
from ticketry.mailparse.parse import ParsedMail, decode_header_value, parse
from ticketry.mailparse.quotes import reply_text

CORPUS = Path(__file__).parent / "corpus"
EXPECTED: dict[str, dict[str, Any]] = tomllib.loads((CORPUS / "expected.toml").read_text("utf-8"))


def mail(
    body: str | bytes = "Hello", *headers: str, content_type: str | None = "text/plain; charset=utf-8"
) -> bytes:
    """A raw mail: the given header lines, a From and Subject unless given, then the body."""
    lines = list(headers)
    names = {line.split(":", 1)[0].lower() for line in lines}
    if "from" not in names:
        lines.append("From: Customer <customer@example.org>")
    if "subject" not in names:
        lines.append("Subject: Test")
    if content_type and "content-type" not in names:
        lines.append(f"Content-Type: {content_type}")
    head = "\r\n".join(lines).encode("utf-8") + b"\r\n\r\n"
    return head + (body.encode("utf-8") if isinstance(body, str) else body)


def multipart(subtype: str, *parts: str, boundary: str = "b0undary") -> str:
    """The body of a multipart with the given parts (each: header lines, blank line, body)."""
    inner = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts)
    return f"{inner}--{boundary}--\r\n"


# --- the corpus ---------------------------------------------------------------------------------


class TestCorpus:
    def test_every_message_has_an_expected_outcome(self) -> None:
        files = {path.stem for path in CORPUS.glob("*.eml")}
        assert files == set(EXPECTED)
        assert len(files) >= 20

    @pytest.mark.parametrize("name", sorted(EXPECTED))
    def test_message_parses_as_expected(self, name: str) -> None:
        expected = EXPECTED[name]
        raw = (CORPUS / f"{name}.eml").read_bytes()
        parsed = parse(raw)

        assert parsed.from_address == expected["from"]
        assert parsed.subject == expected["subject"]
        assert [f.filename for f in parsed.files] == expected["files"]
        for text in expected["reply_text_contains"]:
            assert text in parsed.reply_text
        for text in expected["reply_text_excludes"]:
            assert text not in parsed.reply_text
            assert text in parsed.text or text in raw.decode("utf-8", "replace")  # not trivially absent
        for text in expected.get("text_contains", []):
            assert text in parsed.text
        if "from_name" in expected:
            assert parsed.from_name == expected["from_name"]
        if "in_reply_to" in expected:
            assert list(parsed.in_reply_to) == expected["in_reply_to"]
        if "inline" in expected:
            assert [f.filename for f in parsed.files if f.inline] == expected["inline"]
        for text in expected.get("html_excludes", []):
            assert parsed.html is not None
            assert text not in parsed.html
        if "problems_contains" in expected:
            assert any(expected["problems_contains"] in problem for problem in parsed.problems)
        else:
            assert parsed.problems == ()
        for header, value in expected.get("headers", {}).items():
            assert parsed.header(header) == value
        assert parsed.date is not None
        assert parsed.date.tzinfo is UTC
        assert parsed.message_id is None or parsed.message_id.startswith("<")

    @pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if e["kind"] == "bounce"))
    def test_bounce_names_the_failed_recipient_and_the_bounced_mail(self, name: str) -> None:
        expected = EXPECTED[name]
        report = parse((CORPUS / f"{name}.eml").read_bytes()).report

        assert report is not None
        assert list(report.failed_recipients) == expected["failed_recipients"]
        assert report.original_message_id == expected["original_message_id"]
        assert expected["diagnostic_contains"] in report.diagnostic

    @pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if e["kind"] != "bounce"))
    def test_other_mail_has_no_delivery_report(self, name: str) -> None:
        assert parse((CORPUS / f"{name}.eml").read_bytes()).report is None

    def test_inline_image_keeps_its_cid_for_the_caller(self) -> None:
        parsed = parse((CORPUS / "new_ticket_pdf_inline.eml").read_bytes())

        image = parsed.files[0]
        assert image.content_id == "image001.png@01DA6F1E.4B2C3D40"
        assert image.content.startswith(b"\x89PNG")
        assert parsed.html is not None
        assert 'src="cid:image001.png@01DA6F1E.4B2C3D40"' in parsed.html
        assert parsed.files[1].content.startswith(b"%PDF-1.4")

    def test_html_only_mail_blocks_its_remote_image(self) -> None:
        parsed = parse((CORPUS / "html_only_remote_script.eml").read_bytes())

        assert parsed.remote_images_blocked == 1
        assert parsed.reply_to == ("olivia.martin@example.org",)


# --- charsets -----------------------------------------------------------------------------------


class TestCharsets:
    def test_windows_1252_labelled_iso_8859_1_keeps_its_quotes_and_euro(self) -> None:
        parsed = parse(mail(b"\x93Price\x94: 10 \x80", content_type="text/plain; charset=iso-8859-1"))

        assert parsed.text == "\u201cPrice\u201d: 10 \u20ac"
        assert parsed.problems == ()

    def test_ks_c_5601_1987_is_read_as_korean(self) -> None:
        body = "안녕하세요".encode("cp949")

        assert parse(mail(body, content_type="text/plain; charset=ks_c_5601-1987")).text == "안녕하세요"

    def test_unknown_charset_falls_back_with_a_note(self) -> None:
        parsed = parse(mail("Grüße".encode(), content_type="text/plain; charset=x-unknown"))

        assert parsed.text == "Grüße"
        assert parsed.problems == ("Unknown charset 'x-unknown' read as utf-8",)

    def test_declared_utf_8_that_is_latin_1_is_read_as_windows_1252(self) -> None:
        parsed = parse(mail("Grüße aus Köln".encode("latin-1"), content_type="text/plain; charset=utf-8"))

        assert parsed.text == "Grüße aus Köln"
        assert parsed.problems == ("Text declared as 'utf-8' was not; read as windows-1252",)

    def test_body_without_charset_that_is_utf_8(self) -> None:
        assert parse(mail("naïve café".encode(), content_type="text/plain")).text == "naïve café"

    def test_gb2312_label_reads_gbk_characters(self) -> None:
        text = "您好\uff0c镕"  # 镕 is in GBK, not in GB2312
        parsed = parse(mail(text.encode("gbk"), content_type="text/plain; charset=gb2312"))

        assert parsed.text == text

    def test_codec_names_that_are_no_charset_are_not_used(self) -> None:
        for label in ("base64", "rot13", "zlib", "idna", "punycode", "unicode_escape"):
            parsed = parse(mail(b"SGVsbG8= caf\xc3\xa9", content_type=f"text/plain; charset={label}"))

            assert parsed.text == "SGVsbG8= café"

    def test_utf_16_body(self) -> None:
        parsed = parse(mail("Hallo Welt".encode("utf-16"), content_type="text/plain; charset=utf-16"))

        assert parsed.text == "Hallo Welt"

    def test_mostly_right_charset_keeps_text_and_replaces_the_bad_byte(self) -> None:
        body = ("Привет, мир! " * 40).encode("koi8-r")[:-1] + b"\xff\xfe\xfd"
        decoded, note = decode_text(body, "utf-8")

        assert note is not None
        assert decoded  # never raises, always text

    def test_nul_bytes_never_reach_the_text(self) -> None:
        parsed = parse(mail(b"a\x00b", "Subject: x\x00y"))

        assert parsed.text == "ab"
        assert parsed.subject == "xy"


# --- headers ------------------------------------------------------------------------------------


class TestHeaderDecoding:
    @pytest.mark.parametrize(
        ("raw", "decoded"),
        [
            ("=?utf-8?q?caf=C3=A9?= =?utf-8?q?_cr=C3=A8me?=", "café crème"),
            ("=?UTF-8?B?SGVsbG8gd8O2cmxk?=", "Hello wörld"),
            ("=?utf-8?B?SGVsbG8gd8O2cmxk?=", "Hello wörld"),
            ("=?utf-8?b?SGVsbG8gd8O2cmxk?=", "Hello wörld"),
            ("Re:=?utf-8?q?_caf=C3=A9?=", "Re: café"),  # no space before the word
            ("=?utf-8?q?spaces inside?=", "spaces inside"),  # illegal, but mailers write it
            ("=?utf-8?b?Y2Fmw6k?=", "café"),  # missing base64 padding
            ("=?utf-8*en?q?caf=C3=A9?=", "café"),  # RFC 2231 language tag
            ("=?x-unknown?q?caf=C3=A9?=", "café"),
            ("=?iso-8859-1?q?caf=E9?= and =?utf-8?q?th=C3=A9?=", "café and thé"),
            ("plain text", "plain text"),
            ("=?utf-8?q?unterminated", "=?utf-8?q?unterminated"),
        ],
    )
    def test_encoded_words(self, raw: str, decoded: str) -> None:
        assert decode_header_value(raw) == decoded

    def test_character_split_across_two_encoded_words(self) -> None:
        data = "測試主旨".encode("big5")
        words = " ".join(f"=?big5?B?{base64.b64encode(chunk).decode()}?=" for chunk in (data[:3], data[3:]))

        assert decode_header_value(words) == "測試主旨"

    def test_raw_8_bit_header_bytes(self) -> None:
        assert decode_header_value("Grüße".encode()) == "Grüße"
        assert decode_header_value("Grüße".encode("latin-1")) == "Grüße"
        assert parse(mail("x", "Subject: Gr\u00fc\u00dfe")).subject == "Grüße"

    def test_folded_subject_is_one_line_and_bounded(self) -> None:
        parsed = parse(mail("x", "Subject: first\r\n second\r\n\tthird " + "y" * 600))

        assert parsed.subject.startswith("first second third y")
        assert len(parsed.subject) == 500

    def test_header_lookup_is_case_insensitive_and_decoded(self) -> None:
        parsed = parse(
            mail("x", "X-Custom: =?utf-8?q?caf=C3=A9?=", "x-custom: second", "AUTO-SUBMITTED: auto-replied")
        )

        assert parsed.header("x-CUSTOM") == "café"
        assert parsed.headers("X-Custom") == ("café", "second")
        assert parsed.header("Auto-Submitted") == "auto-replied"
        assert parsed.header("X-Missing") is None
        assert parsed.headers("X-Missing") == ()

    def test_parsed_mail_can_be_built_directly(self) -> None:
        built = ParsedMail(from_address="a@example.org", header_fields=(("precedence", "bulk"),))

        assert built.header("Precedence") == "bulk"
        assert built.text == ""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("<abc@example.org>", "<abc@example.org>"),
            ("  < abc@example.org >  (comment)", "<abc@example.org>"),
            ("(comment <not@this>) <abc@example.org>", "<abc@example.org>"),
            ("abc@example.org", "<abc@example.org>"),
            ("", None),
            ("garbage without id", None),
            ("<has space@example.org>", None),
        ],
    )
    def test_message_id_is_normalised(self, value: str, expected: str | None) -> None:
        assert parse(mail("x", f"Message-ID: {value}")).message_id == expected

    def test_in_reply_to_with_a_phrase(self) -> None:
        parsed = parse(mail("x", "In-Reply-To: <a@example.org> (Anna's message of Tue, 5 Mar 2024)"))

        assert parsed.in_reply_to == ("<a@example.org>",)

    def test_references_keep_the_last_fifty(self) -> None:
        ids = " ".join(f"<id{n}@example.org>" for n in range(80))
        parsed = parse(mail("x", f"References: {ids}"))

        assert len(parsed.references) == 50
        assert parsed.references[0] == "<id30@example.org>"
        assert parsed.references[-1] == "<id79@example.org>"

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("Tue, 5 Mar 2024 11:30:55 +0100", datetime(2024, 3, 5, 10, 30, 55, tzinfo=UTC)),
            ("Tue, 5 Mar 2024 11:30:55 -0000", datetime(2024, 3, 5, 11, 30, 55, tzinfo=UTC)),
            ("5 Mar 2024 11:30:55", datetime(2024, 3, 5, 11, 30, 55, tzinfo=UTC)),
            ("Wed,  6 Mar 2024 12:00:03 +0000 (UTC)", datetime(2024, 3, 6, 12, 0, 3, tzinfo=UTC)),
            ("yesterday", None),
            ("Tue, 99 Foo 99999 99:99:99 +9999", None),
        ],
    )
    def test_date_is_aware_utc(self, value: str, expected: datetime | None) -> None:
        assert parse(mail("x", f"Date: {value}")).date == expected

    def test_addresses(self) -> None:
        parsed = parse(
            mail(
                "x",
                'From: "Doe, Jane (Sales)" <Jane.Doe@Example.ORG>',
                'To: a@example.org, "B, Bee" <b@example.org>, undisclosed-recipients:;',
                "Cc: team: c@example.org, d@example.org (Dee);, garbage, <e@example.org>",
                "Reply-To: =?utf-8?q?J=C3=B6rg?= <joerg@example.org>",
                "Delivered-To: support+t42.abc@help.example.com",
                "X-Original-To: support@help.example.com",
                "Envelope-To: support@help.example.com",
            )
        )

        assert parsed.from_address == "jane.doe@example.org"
        assert parsed.from_name == "Doe, Jane (Sales)"
        assert parsed.to == ("a@example.org", "b@example.org")
        assert parsed.cc == ("c@example.org", "d@example.org", "e@example.org")
        assert parsed.reply_to == ("joerg@example.org",)
        assert parsed.delivered_to == ("support+t42.abc@help.example.com", "support@help.example.com")

    @pytest.mark.parametrize(
        "value", ["", "undisclosed-recipients:;", "no address here", "<>", '"a@b" <not an address>']
    )
    def test_garbage_from_gives_no_address(self, value: str) -> None:
        assert parse(mail("x", f"From: {value}")).from_address == ""

    def test_old_style_comment_name(self) -> None:
        parsed = parse(mail("x", "From: jane@example.org (Jane Doe)"))

        assert (parsed.from_address, parsed.from_name) == ("jane@example.org", "Jane Doe")


# --- quote stripping ----------------------------------------------------------------------------

QUOTED = "> Hello,\n>\n> please try again.\n>\n> Support"


class TestQuoteStripping:
    @pytest.mark.parametrize(
        "attribution",
        [
            "On Tue, Mar 5, 2024 at 10:12 AM Support <support@help.example.com> wrote:",
            "On Tue, Mar 5, 2024 at 10:12 AM Support <support@help.example.com>\nwrote:",
            "On Tue, Mar 5, 2024 at 10:12 AM Ticketry\nSupport <\nsupport@help.example.com> wrote:",
            "On 5 Mar 2024, at 10:12, Support <support@help.example.com> wrote:",
            "On 05/03/2024 10:12, Support wrote:",
            "Le mar. 5 mars 2024 à 10:12, Support <support@help.example.com> a écrit :",
            "Am Di., 5. März 2024 um 10:12 Uhr schrieb Support <support@help.example.com>:",
            "Am 05.03.2024 um 10:12 schrieb Support:",
            "El mar, 5 mar 2024 a las 10:12, Support (<support@help.example.com>) escribió:",
            "Op di 5 mrt. 2024 om 10:12 schreef Support <support@help.example.com>:",
            "Support <support@help.example.com> wrote:",
        ],
    )
    def test_attribution_and_quote_are_cut(self, attribution: str) -> None:
        text = f"Thanks, that fixed it.\n\n{attribution}\n\n{QUOTED}\n"

        assert reply_text(text) == "Thanks, that fixed it."

    @pytest.mark.parametrize(
        "header_block",
        [
            "-----Original Message-----\nFrom: Support\nSent: Tuesday\nSubject: x",
            "From: Support <support@help.example.com>\nSent: Tuesday, March 5, 2024 10:12 AM\n"
            "To: Anna <anna@example.org>\nSubject: RE: [#1] x",
            "________________________________\nFrom: Support <support@help.example.com>\n"
            "Sent: Tuesday, March 5, 2024 10:12\nTo: Anna\nCc: Bob\nSubject: x",
            "*From:* Support <support@help.example.com>\n*Sent:* Tuesday\n*To:* Anna\n*Subject:* x",
            "Von: Support <support@help.example.com>\nGesendet: Dienstag, 5. März 2024 10:12\n"
            "An: Anna\nBetreff: AW: x",
            "De\u00a0: Support <support@help.example.com>\nEnvoyé\u00a0: mardi 5 mars 2024 10:12\n"
            "À\u00a0: Anna\nObjet\u00a0: RE: x",
            "De: Support <support@help.example.com>\nEnviado el: martes, 5 de marzo de 2024 10:12\n"
            "Para: Anna\nAsunto: RE: x",
            "Van: Support <support@help.example.com>\nVerzonden: dinsdag 5 maart 2024 10:12\n"
            "Aan: Anna\nOnderwerp: RE: x",
            "-----Ursprüngliche Nachricht-----\nVon: Support",
        ],
    )
    def test_outlook_header_blocks_are_cut(self, header_block: str) -> None:
        text = (
            f"Thanks, that fixed it.\n\nRegards\nAnna\n\n{header_block}\n\nHello Anna,\nplease try again.\n"
        )

        assert reply_text(text) == "Thanks, that fixed it.\n\nRegards\nAnna"

    def test_inline_reply_keeps_the_interleaved_quotes(self) -> None:
        text = (
            "On Tue, Mar 5, 2024 at 10:12 AM Support <s@example.org> wrote:\n"
            "> Which version do you use?\n"
            "Version 4.2.\n"
            "> Does it happen every time?\n"
            "Only after lunch.\n"
            "> Kind regards,\n> Support\n"
        )

        assert reply_text(text) == (
            "On Tue, Mar 5, 2024 at 10:12 AM Support <s@example.org> wrote:\n"
            "> Which version do you use?\nVersion 4.2.\n> Does it happen every time?\nOnly after lunch."
        )

    def test_bottom_posted_reply_keeps_the_text_below_the_quote(self) -> None:
        text = f"On 05/03/2024 10:12, Support wrote:\n{QUOTED}\n\nThat worked, thanks.\n"

        assert reply_text(text) == "That worked, thanks."

    def test_forward_without_a_note_is_kept_whole(self) -> None:
        forward = (
            "---------- Forwarded message ---------\nFrom: Lisa <lisa@example.org>\n"
            "Date: Wed, Mar 6, 2024\nSubject: Broken\nTo: Bob <bob@example.org>\n\nThe pallet is broken."
        )

        assert reply_text(forward) == forward
        apple = (
            "Begin forwarded message:\n\nFrom: Lisa <lisa@example.org>\nSubject: Broken\n\n"
            "The pallet is broken."
        )
        assert reply_text(apple) == apple

    def test_forward_with_a_note_shows_the_note(self) -> None:
        text = (
            "FYI, see below.\n\nBegin forwarded message:\n\nFrom: Lisa\nSubject: Broken\n\n"
            "The pallet is broken."
        )

        assert reply_text(text) == "FYI, see below."

    @pytest.mark.parametrize(
        "signature",
        [
            "-- \nAnna Schmidt\nACME GmbH\n+49 30 1234567",
            "--\nAnna",
            "Sent from my iPhone",
            "Sent from my Galaxy",
            "Get Outlook for iOS<https://aka.ms/o0ukef>",
            "Von meinem iPhone gesendet",
            "Envoyé de mon iPhone",
            "Enviado desde mi iPhone",
            "Verzonden vanaf mijn iPhone",
        ],
    )
    def test_signature_is_cut(self, signature: str) -> None:
        assert reply_text(f"The export works now.\n\n{signature}\n") == "The export works now."

    def test_ordinary_lines_that_look_like_markers_are_kept(self) -> None:
        text = (
            "Our shipment:\nFrom: Berlin\nTo: Paris\nArrival on Monday.\n\n"
            "On Monday I wrote to your colleague but got no answer.\nIt was sent via DHL."
        )

        assert reply_text(text) == text

    def test_reply_that_is_only_a_quote_falls_back_to_the_text(self) -> None:
        text = f"On 05/03/2024 10:12, Support wrote:\n{QUOTED}"

        assert reply_text(text) == text

    def test_trailing_quote_without_attribution_is_cut(self) -> None:
        assert reply_text(f"Done.\n\n{QUOTED}\n") == "Done."

    def test_html_only_reply_is_stripped_through_its_blockquote(self) -> None:
        html = (
            "<div>Works now, thanks!</div><div class='gmail_quote'><div class='gmail_attr'>On Tue, Mar 5, "
            "2024 at 10:12 AM Support &lt;s@example.org&gt; wrote:<br></div><blockquote class='gmail_quote'>"
            "Hello,<br>please restart.</blockquote></div>"
        )
        parsed = parse(mail(html, content_type="text/html; charset=utf-8"))

        assert parsed.reply_text == "Works now, thanks!"
        assert "> please restart." in parsed.text

    def test_outlook_html_only_reply_is_stripped_at_its_header_block(self) -> None:
        html = (
            "<p class=MsoNormal>Fixed, thanks.</p><p class=MsoNormal>&nbsp;</p>"
            "<div style='border:none;border-top:solid #E1E1E1 1.0pt'><p class=MsoNormal><b>From:</b> Support"
            "<br><b>Sent:</b> Tuesday, March 5, 2024 1:45 PM<br><b>To:</b> Anna<br>"
            "<b>Subject:</b> x</p></div>"
            "<p class=MsoNormal>Hello Anna, please restart.</p>"
        )

        assert parse(mail(html, content_type="text/html")).reply_text == "Fixed, thanks."


# --- HTML ---------------------------------------------------------------------------------------


class TestHtmlSanitising:
    def test_active_content_is_removed(self) -> None:
        html, _ = sanitise_html(
            "<script>alert(1)</script><style>p{}</style><p onclick='x()' style='color:red' id='a'>Hi</p>"
            "<img src=x onerror='alert(1)'><a href='javascript:alert(1)'>link</a><iframe src='https://x'></iframe>"
            "<form action='https://x'><input name=p></form><svg><script>alert(2)</script></svg>"
            "<a href='data:text/html,<script>alert(3)</script>'>data</a><a href='/relative'>rel</a>"
        )

        for removed in ("script", "style", "onclick", "onerror", "javascript:", "iframe", "form", "input",
                        "svg", "data:", "/relative", "id="):  # fmt: skip
            assert removed not in html
        assert "<p>Hi</p>" in html

    def test_remote_images_are_removed_by_default(self) -> None:
        source = (
            "<img src='https://t.example/p.gif'><img src='http://t.example/q.gif'>"
            "<img src='//t.example/r.gif'><img src='cid:logo@x'>"
        )
        blocked, count = sanitise_html(source)
        allowed, none = sanitise_html(source, remote_images=True)

        assert "t.example" not in blocked
        assert count == 3
        assert 'src="cid:logo@x"' in blocked
        assert 'src="https://t.example/p.gif"' in allowed
        assert 'src="https://t.example/r.gif"' in allowed
        assert none == 0

    def test_parse_keeps_remote_images_only_when_asked(self) -> None:
        raw = mail("<p>Hi</p><img src='https://t.example/p.gif'>", content_type="text/html")

        assert "t.example" not in (parse(raw).html or "")
        assert "https://t.example/p.gif" in (parse(raw, remote_images=True).html or "")

    def test_links_get_rel_and_keep_safe_schemes(self) -> None:
        html, _ = sanitise_html("<a href='https://example.org/x'>x</a> <a href='mailto:a@example.org'>a</a>")

        assert 'href="https://example.org/x"' in html
        assert 'href="mailto:a@example.org"' in html
        assert 'rel="noopener noreferrer nofollow"' in html

    def test_quote_markers_survive_other_classes_do_not(self) -> None:
        html, _ = sanitise_html(
            "<div class='gmail_quote evil'><blockquote type='cite' class='x'>q</blockquote></div>"
        )

        assert html == '<div class="gmail_quote"><blockquote type="cite">q</blockquote></div>'

    def test_html_to_text(self) -> None:
        html, _ = sanitise_html(
            "<h1>Title</h1><p>First&nbsp;para   with\nspaces</p><div>Line<br>break</div>"
            "<ul><li>one</li><li>two</li></ul><ol><li>a</li><li>b</li></ol>"
            "<p>See <a href='https://example.org/docs'>the docs</a> or <a href='https://example.org'>"
            "https://example.org</a> or <a href='mailto:help@example.org'>help@example.org</a></p>"
            "<blockquote>quoted<blockquote>twice</blockquote></blockquote>"
            "<table><tr><td>a</td><td>b</td></tr></table><pre>  keep\n    this</pre>"
        )

        assert html_to_text(html) == (
            "Title\nFirst para with spaces\nLine\nbreak\n- one\n- two\n1. a\n2. b\n"
            "See the docs (https://example.org/docs) or https://example.org or help@example.org\n"
            "> quoted\n>> twice\na b\n  keep\n    this"
        )

    def test_deep_nesting_is_flattened_before_sanitising(self) -> None:
        html, _ = sanitise_html("<blockquote>" * 5000 + "deep" + "</blockquote>" * 5000)

        assert "deep" in html
        assert html.count("<blockquote>") <= 100


# --- attachments --------------------------------------------------------------------------------


class TestAttachments:
    def test_parts_without_names_get_names_from_their_type(self) -> None:
        body = multipart(
            "mixed",
            "Content-Type: text/plain\r\n\r\nSee files.",
            "Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=",
            "Content-Type: application/x-weird\r\n\r\nxyz",
            "Content-Type: application/ms-tnef\r\n\r\nx",
        )
        parsed = parse(mail(body, content_type="multipart/mixed; boundary=b0undary"))

        assert [f.filename for f in parsed.files] == ["image-1.png", "attachment-2.bin", "winmail.dat"]
        assert parsed.files[0].content == b"\x89PNG\r\n\x1a\n"
        assert parsed.text == "See files."

    def test_rfc2231_and_rfc2047_names(self) -> None:
        body = multipart(
            "mixed",
            "Content-Type: application/pdf\r\nContent-Disposition: attachment;\r\n"
            " filename*0*=utf-8''R%C3%A9sum%C3%A9;\r\n filename*1=\" final.pdf\"\r\n\r\n%PDF",
            'Content-Type: text/plain; name="=?utf-8?q?caf=C3=A9.txt?="\r\n'
            "Content-Disposition: attachment\r\n\r\nx",
            'Content-Type: application/pdf; name="a.pdf"\r\n'
            'Content-Disposition: attachment; filename="../../etc/passwd"\r\n\r\nx',
        )
        parsed = parse(mail(body, content_type="multipart/mixed; boundary=b0undary"))

        assert [f.filename for f in parsed.files] == ["Résumé final.pdf", "café.txt", "../../etc/passwd"]

    def test_cid_image_is_inline_only_when_the_html_shows_it(self) -> None:
        image = (
            "Content-Type: image/gif\r\nContent-ID: <{cid}>\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\nR0lGODlh"
        )
        body = multipart(
            "related",
            'Content-Type: text/html\r\n\r\n<p>Look: <img src="cid:shown@x"></p>',
            image.format(cid="shown@x"),
            image.format(cid="unused@x"),
        )
        parsed = parse(mail(body, content_type="multipart/related; boundary=b0undary"))

        assert [(f.content_id, f.inline) for f in parsed.files] == [("shown@x", True), ("unused@x", False)]

    def test_nested_message_becomes_an_eml_file_and_is_quoted_after_our_text(self) -> None:
        nested = "Subject: Old/problem\r\nFrom: x@example.org\r\n\r\nThe nested text."
        untitled = "From: x@example.org\r\n\r\nNo subject."
        body = multipart(
            "mixed",
            "Content-Type: text/plain\r\n\r\nOur text.",
            f"Content-Type: message/rfc822\r\n\r\n{nested}",
            f"Content-Type: message/rfc822\r\n\r\n{untitled}",
        )
        parsed = parse(mail(body, content_type="multipart/mixed; boundary=b0undary"))

        assert [f.filename for f in parsed.files] == ["Old-problem.eml", "message.eml"]
        assert parsed.files[0].content.endswith(b"The nested text.")
        assert parsed.text.startswith("Our text.\n\n> ---------- Forwarded message ----------\n")
        assert "> Subject: Old/problem\n>\n> The nested text." in parsed.text

    def test_text_attachment_is_a_file_and_inline_text_parts_are_joined(self) -> None:
        body = multipart(
            "mixed",
            "Content-Type: text/plain\r\n\r\nFirst part.",
            "Content-Type: text/plain\r\nContent-Disposition: attachment\r\n\r\nlog line",
            "Content-Type: text/plain\r\nContent-Disposition: inline; filename=notes.txt\r\n\r\nnotes",
            "Content-Type: text/plain\r\n\r\nFooter part.",
        )
        parsed = parse(mail(body, content_type="multipart/mixed; boundary=b0undary"))

        assert parsed.text == "First part.\n\nFooter part."
        assert [f.filename for f in parsed.files] == ["attachment-1.txt", "notes.txt"]

    def test_signed_mail_drops_the_detached_signature(self) -> None:
        body = multipart(
            "signed",
            "Content-Type: text/plain\r\n\r\nSigned text.",
            "Content-Type: application/pgp-signature; name=signature.asc\r\n\r\n"
            "-----BEGIN PGP SIGNATURE-----",
        )
        parsed = parse(
            mail(
                body, content_type='multipart/signed; protocol="application/pgp-signature"; boundary=b0undary'
            )
        )

        assert parsed.text == "Signed text."
        assert parsed.files == ()

    def test_alternative_prefers_plain_text_and_keeps_html(self) -> None:
        body = multipart(
            "alternative",
            "Content-Type: text/plain\r\n\r\nPlain version.",
            "Content-Type: text/html\r\n\r\n<p>HTML <b>version</b>.</p>",
        )
        parsed = parse(mail(body, content_type="multipart/alternative; boundary=b0undary"))

        assert parsed.text == "Plain version."
        assert parsed.html == "<p>HTML <b>version</b>.</p>"

    def test_quoted_printable_and_base64_bodies(self) -> None:
        qp = parse(mail("caf=C3=A9 =\r\nsoft", "Content-Transfer-Encoding: quoted-printable"))
        b64 = parse(mail("Y2Fmw6k=\r\n", "Content-Transfer-Encoding: base64"))

        assert qp.text == "café soft"
        assert b64.text == "café"


# --- delivery reports ---------------------------------------------------------------------------


def report(*recipients: str, encoding: str = "") -> bytes:
    status = "Reporting-MTA: dns; mx.example.org\r\n\r\n" + "\r\n\r\n".join(recipients)
    transfer = f"Content-Transfer-Encoding: {encoding}" if encoding else ""
    if encoding == "base64":
        status = base64.encodebytes(status.encode()).decode()
    body = multipart(
        "report",
        "Content-Type: text/plain\r\n\r\nDelivery failed.",
        f"Content-Type: message/delivery-status\r\n{transfer}\r\n\r\n{status}",
        "Content-Type: text/rfc822-headers\r\n\r\n"
        "Message-ID: <orig@help.example.com>\r\nReferences: <a@x> <b@x>",
    )
    return mail(
        body,
        "From: MAILER-DAEMON@example.org",
        content_type="multipart/report; report-type=delivery-status; boundary=b0undary",
    )


class TestDeliveryReport:
    def test_failed_recipients_and_the_original_ids(self) -> None:
        parsed = report(
            "Final-Recipient: rfc822; gone@example.org\r\nAction: failed\r\nStatus: 5.1.1",
            "Final-Recipient: rfc822; slow@example.org\r\nAction: delayed\r\nStatus: 4.4.1",
            "Final-Recipient: rfc822;<Also.Gone@Example.org>\r\nAction: failed (permanent)\r\nStatus: 5.2.2",
        )
        result = parse(parsed).report

        assert result is not None
        assert result.failed_recipients == ("gone@example.org", "also.gone@example.org")
        assert result.diagnostic == "5.1.1"
        assert result.original_message_id == "<orig@help.example.com>"
        assert result.original_references == ("<a@x>", "<b@x>")

    def test_delay_notice_is_a_report_without_failures(self) -> None:
        result = parse(
            report("Final-Recipient: rfc822; slow@example.org\r\nAction: delayed\r\nStatus: 4.4.1")
        ).report

        assert result is not None
        assert result.failed_recipients == ()

    def test_base64_encoded_status(self) -> None:
        raw = report("Final-Recipient: rfc822; gone@example.org\r\nStatus: 5.0.0", encoding="base64")
        result = parse(raw).report

        assert result is not None
        assert result.failed_recipients == ("gone@example.org",)

    def test_mail_from_postmaster_that_is_no_bounce(self) -> None:
        parsed = parse(
            mail("Your mailbox is almost full.", "From: postmaster@example.org", "Subject: Quota warning")
        )

        assert parsed.report is None


# --- broken mail --------------------------------------------------------------------------------


class TestBrokenMime:
    def test_multipart_without_boundary_is_read_as_text(self) -> None:
        parsed = parse(mail("just text", content_type="multipart/mixed"))

        assert parsed.text == "just text"
        assert parsed.problems == ("The MIME structure was broken; read as plain text",)

    def test_boundary_that_never_closes(self) -> None:
        body = "--b0undary\r\nContent-Type: text/plain\r\n\r\nfirst\r\n--b0undary\r\n\r\nsecond and no end"
        parsed = parse(mail(body, content_type="multipart/mixed; boundary=b0undary"))

        assert parsed.text == "first\n\nsecond and no end"

    def test_preamble_and_epilogue_are_ignored(self) -> None:
        body = (
            "This is a multi-part message.\r\n"
            + multipart("mixed", "Content-Type: text/plain\r\n\r\nbody")
            + "epilogue"
        )
        parsed = parse(mail(body, content_type="multipart/mixed; boundary=b0undary"))

        assert parsed.text == "body"

    def test_no_headers_at_all(self) -> None:
        parsed = parse(b"\r\nJust a body.")

        assert (parsed.text, parsed.from_address, parsed.subject) == ("Just a body.", "", "")

    def test_headers_only(self) -> None:
        parsed = parse(b"From: a@example.org\r\nSubject: Empty")

        assert (parsed.text, parsed.reply_text, parsed.subject) == ("", "", "Empty")

    def test_missing_blank_line_after_headers(self) -> None:
        parsed = parse(b"From: a@example.org\r\nSubject: x\r\nThis line is the body.\r\n")

        assert parsed.subject == "x"
        assert parsed.text == "This line is the body."

    def test_mbox_from_line_and_old_mac_line_ends(self) -> None:
        mbox = parse(
            b"From a@example.org Tue Mar  5 10:00:00 2024\nFrom: a@example.org\nSubject: s\n\nbody\n"
        )
        mac = parse(b"From: a@example.org\rSubject: s\r\rbody\rline")

        assert (mbox.from_address, mbox.subject, mbox.text) == ("a@example.org", "s", "body")
        assert (mac.subject, mac.text) == ("s", "body\nline")

    def test_invalid_content_type_is_text(self) -> None:
        assert parse(mail("body", content_type="garbage")).text == "body"

    def test_never_raises_even_on_internal_errors(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from ticketry.mailparse import parse as module

        def broken(self: object, bodies: object) -> None:
            raise RecursionError("simulated")

        monkeypatch.setattr(module._Reader, "assemble", broken)
        parsed = parse(mail("the body", "Subject: still readable"))

        assert parsed.subject == "still readable"
        assert parsed.text == "the body"
        assert parsed.problems == (
            "The mail could not be read (RecursionError); its text is shown as received",
        )
