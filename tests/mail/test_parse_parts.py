"""Mail parts the parser used to mishandle (issue 14 A.3, A.4, A.9), on mails written the way
Outlook, Gmail, Apple Mail and Lotus Notes write them (`real_world/`): forwarded mails are quoted
in the text and keep their files and their .eml, uuencoded blocks become files, winmail.dat is
unpacked. Then the same mails through the whole channel: the ticket's text and files, and the
.eml served as a download that no browser renders."""

from __future__ import annotations

import base64
import binascii
import struct
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import make_admin, make_customer, make_ticket
from tests.mailserver import MailServer
from ticketry.attachments.kinds import HEAD_BYTES, identify
from ticketry.attachments.models import Attachment
from ticketry.core.config import get_settings
from ticketry.core.db import Database
from ticketry.mail.inbound.ingest import file_store
from ticketry.mail.log.models import MailStatus
from ticketry.mail.outbound import ids
from ticketry.mailparse.forwarded import MAX_FORWARD_DEPTH, MAX_FORWARDS
from ticketry.mailparse.parse import MAX_BODY, ParsedMail, parse
from ticketry.messages.models import Message
from ticketry.tickets.models import Ticket

from .inbound import mail_settings, make_mailbox
from .tnef_builder import MESSAGE, entry, tnef

__all__ = ["mail_settings"]

REAL_WORLD = Path(__file__).parent / "real_world"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)
ACTIVE = ("<script", "alert(", "onclick", "javascript:", "document.cookie", "track.", "pixel.")


def real(name: str) -> bytes:
    return (REAL_WORLD / f"{name}.eml").read_bytes()


def files(parsed: ParsedMail) -> dict[str, bytes]:
    return {f.filename: f.content for f in parsed.files}


def mail(body: str, *, content_type: str, headers: str = "") -> bytes:
    head = f"From: Carla <carla@customer.example>\r\nSubject: Test\r\n{headers}"
    head += f"Content-Type: {content_type}\r\n\r\n"
    return (head + body).encode("utf-8")


def multipart(subtype: str, *parts: str, boundary: str = "b0undary") -> str:
    inner = "".join(f"--{boundary}\r\n{part}\r\n" for part in parts)
    return f"{inner}--{boundary}--\r\n"


def forwarded(subject: str, body: str, *, sender: str = "Lisa <lisa@example.org>") -> str:
    return (
        f"Content-Type: message/rfc822\r\n\r\nFrom: {sender}\r\nSubject: {subject}\r\n"
        f"Date: Tue, 12 Mar 2024 16:45:30 +0100\r\n\r\n{body}"
    )


def uuencoded(data: bytes) -> str:
    lines = [binascii.b2a_uu(data[i : i + 45]).decode().rstrip("\n") for i in range(0, len(data), 45)]
    return "\n".join([*lines, "`"])


# --- forwarded mails ----------------------------------------------------------------------------


class TestForwardedMail:
    def test_outlooks_forward_as_attachment_is_quoted_after_the_text_with_its_files(self) -> None:
        parsed = parse(real("outlook_forward_as_attachment"))

        own, _, forward = parsed.reply_text.partition("\n\n> ---------- Forwarded message ----------\n")
        assert own.startswith("Hello,\n\nour customer sent us the mail below")
        assert forward.startswith(
            "> From: Pavel Dvořák <pavel.dvorak@fabrikam-shop.example>\n"
            "> Date: Tue, 12 Mar 2024 15:45 UTC\n"
            "> Subject: Quote Q-2291 does not match the order\n"
            ">\n"
            "> Dear Jana,\n"
        )
        assert "> quote Q-2291 lists 40 pallets, but our order 7781 was for 24 pallets." in forward
        assert parsed.text.endswith(forward)
        assert list(files(parsed)) == ["Quote Q-2291 does not match the order.eml", "Quote Q-2291.pdf"]
        eml = files(parsed)["Quote Q-2291 does not match the order.eml"]
        assert eml.startswith(b"Received: from VI1PR08MB3101") and b"Content-Type: application/pdf" in eml
        assert files(parsed)["Quote Q-2291.pdf"].startswith(b"%PDF-1.4")
        assert parsed.html is not None and "<blockquote>" in parsed.html and "40 pallets" in parsed.html
        for active in ACTIVE:
            assert active not in parsed.html and active not in parsed.text
        assert parsed.problems == ()

    def test_a_forward_inside_a_forward_is_quoted_inside_it_and_only_the_outer_eml_is_kept(self) -> None:
        parsed = parse(real("gmail_nested_forward"))

        assert parsed.reply_text.startswith("Forwarding Olga's mail with IT's answer attached")
        assert "> From: Olga Petrova <olga.petrova@northwind.example>\n" in parsed.reply_text
        assert "> Marek, IT says it is fixed, but the VPN still drops every ten minutes." in parsed.reply_text
        assert "> > From: IT Desk <itdesk@northwind.example>\n" in parsed.reply_text
        assert "> > Subject: Re: VPN keeps dropping\n" in parsed.reply_text
        # The innermost mail is HTML only: read through the sanitiser and HTML to text.
        assert "> > the VPN client drops because the certificate expired on 11 March." in parsed.reply_text
        assert list(files(parsed)) == ["VPN keeps dropping.eml", "vpn-error.png"]
        assert files(parsed)["vpn-error.png"] == PNG
        for active in ACTIVE:
            assert active not in parsed.text and active not in (parsed.html or "")

    def test_a_forward_in_the_html_branch_of_an_alternative_is_shown_once(self) -> None:
        parsed = parse(real("apple_forward_in_alternative"))

        assert parsed.reply_text.startswith("Please refund one of the two charges, see Lucy's mail.")
        assert parsed.reply_text.count("---------- Forwarded message ----------") == 1
        assert "> my card was charged twice for booking 5521. Can you refund one?" in parsed.reply_text
        assert list(files(parsed)) == ["Booking 5521 charged twice.eml"]

    def test_the_same_forward_in_both_branches_of_an_alternative_is_one_forward(self) -> None:
        forward = forwarded("Broken", "The printer is broken.")
        body = multipart(
            "alternative",
            "Content-Type: multipart/mixed; boundary=p\r\n\r\n"
            + multipart("mixed", "Content-Type: text/plain\r\n\r\nSee below.", forward, boundary="p"),
            "Content-Type: multipart/mixed; boundary=h\r\n\r\n"
            + multipart("mixed", "Content-Type: text/html\r\n\r\n<p>See below.</p>", forward, boundary="h"),
        )
        parsed = parse(mail(body, content_type="multipart/alternative; boundary=b0undary"))

        assert parsed.reply_text.count("> The printer is broken.") == 1
        assert list(files(parsed)) == ["Broken.eml"]
        assert parsed.html is not None and parsed.html.count("The printer is broken.") == 1

    def test_blank_lines_before_a_forwarded_mails_headers_are_skipped(self) -> None:
        body = multipart(
            "mixed", "Content-Type: text/plain\r\n\r\nMine.", forwarded("Hi", "Theirs.")
        ).replace("message/rfc822\r\n\r\n", "message/rfc822\r\n\r\n\r\n \r\n")
        parsed = parse(mail(body, content_type="multipart/mixed; boundary=b0undary"))

        assert (
            "> From: Lisa <lisa@example.org>\n> Date: Tue, 12 Mar 2024 15:45 UTC\n> Subject: Hi\n"
            in parsed.text
        )
        assert parsed.text.endswith(">\n> Theirs.")
        assert list(files(parsed)) == ["Hi.eml"]

    def test_forwards_are_opened_only_so_deep(self) -> None:
        nested = "The core."
        for level in reversed(range(MAX_FORWARD_DEPTH + 2)):
            head = f"From: level{level}@example.org\r\nSubject: Level {level}\r\n"
            nested = f"{head}Content-Type: message/rfc822\r\n\r\n{nested}"
        parsed = parse(mail(nested, content_type="message/rfc822"))

        quoted = "> " * MAX_FORWARD_DEPTH
        assert f"{quoted}Subject: Level {MAX_FORWARD_DEPTH - 1}" in parsed.text
        assert f"Level {MAX_FORWARD_DEPTH}" not in parsed.text
        assert (
            f"A mail forwarded more than {MAX_FORWARD_DEPTH} levels deep is shown only in its .eml file"
            in (parsed.problems)
        )
        [eml] = parsed.files
        assert eml.filename == "Level 0.eml" and eml.content.endswith(b"The core.")

    def test_forwards_beyond_the_limit_are_kept_as_files_only(self) -> None:
        parts = [forwarded(f"Mail {n}", f"Text of mail {n}.") for n in range(MAX_FORWARDS + 3)]
        parsed = parse(mail(multipart("mixed", *parts), content_type="multipart/mixed; boundary=b0undary"))

        assert parsed.text.count("---------- Forwarded message ----------") == MAX_FORWARDS
        assert f"Text of mail {MAX_FORWARDS - 1}." in parsed.text
        assert f"Text of mail {MAX_FORWARDS}." not in parsed.text
        assert len(parsed.files) == MAX_FORWARDS + 3
        assert any("shown only in their .eml files" in problem for problem in parsed.problems)

    def test_a_forward_with_a_megabyte_of_text_is_cut_with_the_rest(self) -> None:
        body = multipart(
            "mixed", "Content-Type: text/plain\r\n\r\nOur text.", forwarded("Big", "line\n" * (MAX_BODY // 3))
        )
        parsed = parse(mail(body, content_type="multipart/mixed; boundary=b0undary"))

        assert parsed.text.startswith("Our text.\n\n> ---------- Forwarded message")
        assert len(parsed.text) <= MAX_BODY and len(parsed.reply_text) <= MAX_BODY
        assert "The text was cut at 1 MB" in parsed.problems

    def test_the_bounced_mail_of_a_delivery_report_is_no_forward(self) -> None:
        body = multipart(
            "report",
            "Content-Type: text/plain\r\n\r\nYour mail could not be delivered.",
            "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
            "Final-Recipient: rfc822; gone@example.org\r\nAction: failed\r\nStatus: 5.1.1",
            "Content-Type: message/rfc822\r\n\r\nMessage-ID: <ours@help.example.com>\r\n"
            "Subject: Your ticket\r\n\r\nOur own notification text.",
        )
        parsed = parse(
            mail(body, content_type="multipart/report; report-type=delivery-status; boundary=b0undary")
        )

        assert "Our own notification text." not in parsed.text
        assert "Forwarded message" not in parsed.reply_text
        assert parsed.report is not None and parsed.report.original_message_id == "<ours@help.example.com>"
        assert list(files(parsed)) == ["Your ticket.eml"]


# --- uuencoded files ----------------------------------------------------------------------------


class TestUuencoded:
    def test_lotus_notes_blocks_become_files_named_as_their_begin_line(self) -> None:
        parsed = parse(real("lotus_notes_uuencoded"))

        assert list(files(parsed)) == ["Lieferschein 7781.pdf", "notes 7781.txt"]
        assert files(parsed)["Lieferschein 7781.pdf"].startswith(b"%PDF-1.4\n")
        assert files(parsed)["notes 7781.txt"] == (
            b"Order 7781: 24 pallets delivered on 12.03.2024, delivery note missing.\n"
        )
        assert parsed.text.startswith("Hello,\n\nthe delivery note for order 7781 is missing.")
        assert parsed.text.endswith("Regards\nKarl Weber\nMueller Bau GmbH")
        assert "begin" not in parsed.text and "end" not in parsed.text.split()
        assert parsed.problems == ()

    def test_a_malformed_block_stays_as_text_and_is_noted(self) -> None:
        text = "See the file.\n\nbegin 644 broken.bin\nthis is not uuencoded at all\nend\n\nBye."
        parsed = parse(mail(text, content_type="text/plain"))

        assert parsed.files == ()
        assert "begin 644 broken.bin\nthis is not uuencoded at all\nend" in parsed.text
        assert "A uuencoded file (broken.bin) is malformed; it was left as text" in parsed.problems

    def test_a_block_without_its_end_line_stays_as_text_and_is_noted(self) -> None:
        text = f"Cut off.\n\nbegin 644 half.txt\n{uuencoded(b'half of it')}\n"
        parsed = parse(mail(text, content_type="text/plain"))

        assert parsed.files == ()
        assert "begin 644 half.txt" in parsed.text
        assert "A uuencoded file (half.txt) has no end line; it was left as text" in parsed.problems

    def test_a_good_block_after_a_bad_one_is_still_taken(self) -> None:
        text = (
            "Two files.\nbegin 644 bad.txt\nnot uuencoded\nend\n"
            f"begin 644 good.txt\n{uuencoded(b'the good one')}\nend\nThe end."
        )
        parsed = parse(mail(text, content_type="text/plain"))

        assert files(parsed) == {"good.txt": b"the good one"}
        assert parsed.text == "Two files.\nbegin 644 bad.txt\nnot uuencoded\nend\nThe end."

    def test_a_file_larger_than_the_text_limit_arrives_whole(self) -> None:
        data = bytes(range(256)) * (MAX_BODY // 128)  # 2 MB
        parsed = parse(
            mail(f"Big file.\nbegin 644 big.bin\n{uuencoded(data)}\nend\n", content_type="text/plain")
        )

        assert files(parsed) == {"big.bin": data}
        assert parsed.text == "Big file."
        assert parsed.problems == ()

    def test_the_uuencode_transfer_encoding_still_decodes(self) -> None:
        part = (
            "Content-Type: application/pdf; name=a.pdf\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
            f"begin 644 a.pdf\r\n{uuencoded(b'%PDF-1.4 x')}\r\nend"
        )
        parsed = parse(mail(multipart("mixed", part), content_type="multipart/mixed; boundary=b0undary"))

        assert files(parsed) == {"a.pdf": b"%PDF-1.4 x"}


# --- winmail.dat --------------------------------------------------------------------------------


def winmail_mail(stream: bytes, *, text: str | None = "Our text.") -> bytes:
    parts = [f"Content-Type: text/plain\r\n\r\n{text}"] if text is not None else []
    parts.append(
        'Content-Type: application/ms-tnef; name="winmail.dat"\r\nContent-Disposition: attachment; '
        'filename="winmail.dat"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
        + base64.b64encode(stream).decode()
    )
    return mail(multipart("mixed", *parts), content_type="multipart/mixed; boundary=b0undary")


class TestWinmail:
    def test_outlooks_winmail_is_unpacked_into_its_files(self) -> None:
        parsed = parse(real("outlook_winmail_files"))

        assert list(files(parsed)) == ["Fehlerprotokoll März.txt", "Scanner-Anzeige.png"]
        assert files(parsed)["Fehlerprotokoll März.txt"].startswith(b"Fehlerprotokoll Scanner 2. OG\r\n")
        assert files(parsed)["Scanner-Anzeige.png"] == PNG
        assert parsed.text == "Hello,\n\nthe scanner log and a photo of its display are attached.\n\nPeter"
        assert parsed.problems == ()

    def test_its_html_is_the_text_of_a_mail_without_any_other(self) -> None:
        stream = tnef(
            files=[("report.txt", b"the report\n")],
            html="<p>The <b>only</b> text.</p><script>alert(1)</script><img src=x onerror=alert(2)>",
        )
        raw = (
            "From: Peter <peter@northwind.example>\r\nSubject: Only TNEF\r\n"
            "Content-Type: application/ms-tnef\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.b64encode(stream).decode()
        ).encode()
        parsed = parse(raw)

        assert parsed.text == "The only text." and parsed.reply_text == "The only text."
        assert parsed.html is not None and "<b>only</b>" in parsed.html
        assert "script" not in parsed.html and "onerror" not in parsed.html
        assert files(parsed) == {"report.txt": b"the report\n"}

    def test_its_text_is_not_used_when_the_mail_has_its_own(self) -> None:
        parsed = parse(winmail_mail(tnef(files=[("a.txt", b"a\n")], text="Outlook's copy of the text.")))

        assert parsed.text == "Our text."
        assert files(parsed) == {"a.txt": b"a\n"}

    def test_one_with_only_rich_text_is_kept_and_the_missing_text_noted(self) -> None:
        stream = tnef(rtf=b"\x2d\x00\x00\x00LZFu compressed rich text")
        parsed = parse(winmail_mail(stream, text=None))

        assert files(parsed) == {"winmail.dat": stream}
        assert parsed.text == ""
        assert "The text of the mail is rich text (RTF) in winmail.dat, which is not read" in parsed.problems

    def test_one_that_is_no_tnef_is_kept_as_it_came_and_noted(self) -> None:
        parsed = parse(winmail_mail(b"PK\x03\x04 not a TNEF stream"))

        assert files(parsed) == {"winmail.dat": b"PK\x03\x04 not a TNEF stream"}
        assert "winmail.dat could not be unpacked (it is not a TNEF stream); it was kept as it came" in (
            parsed.problems
        )

    @pytest.mark.parametrize(
        ("extra", "reason"),
        [
            # A multi-valued property claiming 2^32 values: tnefparse would loop that often.
            (
                entry(MESSAGE, 0x9003, 0x0006, struct.pack("<IHHI", 1, 0x1002, 0x0017, 0xFFFFFFFF)),
                "it counts more values than it holds",
            ),
            (
                entry(MESSAGE, 0x9003, 0x0006, struct.pack("<I", 0xFFFFFFFF)),
                "it counts more properties than it holds",
            ),
            # 100,000 empty entries: tnefparse copies the rest of the stream for each (60 GB).
            (entry(MESSAGE, 0x8004, 0x0002, b"") * 100_000, "it is too complex to unpack"),
        ],
        ids=["values", "properties", "entries"],
    )
    def test_a_hostile_one_is_refused_before_it_is_read(self, extra: bytes, reason: str) -> None:
        stream = tnef(files=[("a.txt", b"a\n")], extra=extra)
        parsed = parse(winmail_mail(stream))

        assert files(parsed) == {"winmail.dat": stream}
        assert f"winmail.dat could not be unpacked ({reason}); it was kept as it came" in parsed.problems
        assert not parsed.over_budget


# --- the .eml as a stored file ------------------------------------------------------------------


class TestEmlKind:
    """A forwarded mail is kept as an .eml file: accepted by its header section, whatever the
    charset of its body, and only ever served as a download."""

    @pytest.mark.parametrize(
        "content",
        [
            files(parse(real("outlook_forward_as_attachment")))["Quote Q-2291 does not match the order.eml"],
            b"From: a@example.org\r\nSubject: caf\xe9\r\n\r\nLatin-1 body: \xe9t\xe9 \x00 and a NUL.",
            b"From sender@example.org Tue Mar 12 16:45:30 2024\nReceived: by x\n\tfolded\nDate: now\n\nBody",
        ],
        ids=["outlook", "8-bit", "mbox"],
    )
    def test_a_mail_is_an_eml_never_shown_inline(self, content: bytes) -> None:
        verdict = identify(content[:HEAD_BYTES], "eml", frozenset())

        assert verdict.kind is not None and verdict.kind.name == "eml", verdict.reason
        assert verdict.kind.mime == "message/rfc822" and not verdict.kind.preview

    @pytest.mark.parametrize(
        ("content", "reason"),
        [
            (b"<html><body><script>alert(1)</script></body></html>", "markup"),
            (b"<svg:x>\nFrom: a@example.org\n\n<script>alert(1)</script>", "markup"),
            (b"Just some notes.\nNo headers here.\n", "its content is a text file"),
            (b"X-Custom: only\r\n\r\nno field every mail has", "its content is a text file"),
            (b"\x89PNG\r\n\x1a\n", "its content is a PNG image"),
        ],
    )
    def test_what_is_no_mail_is_not_accepted_as_one(self, content: bytes, reason: str) -> None:
        verdict = identify(content, "eml", frozenset())

        assert verdict.kind is None and reason in verdict.reason

    def test_a_text_file_that_starts_like_a_mail_is_still_a_text_file(self) -> None:
        verdict = identify(b"From: a@example.org\nSubject: notes\n\nplain notes", "txt", frozenset())

        assert verdict.kind is not None and verdict.kind.name == "text"


# --- through the whole channel ------------------------------------------------------------------


def ticket_files(db: Database, ticket_id: int) -> dict[str, Attachment]:
    with db.unit_of_work(write=False) as session:
        rows = session.scalars(select(Attachment).where(Attachment.ticket_id == ticket_id))
        return {row.filename: row for row in rows}


def only_ticket(db: Database) -> Ticket:
    with db.unit_of_work(write=False) as session:
        [ticket] = session.scalars(select(Ticket))
        return ticket


class TestIngest:
    def test_a_forward_as_attachment_opens_a_ticket_with_the_forward_quoted_and_the_eml_downloadable(
        self, db: Database, mail_settings: MailServer, client: TestClient
    ) -> None:
        raw = real("outlook_forward_as_attachment")

        logged = make_mailbox(db).receive(raw)

        assert logged.status is MailStatus.CREATED_TICKET, logged.reason
        ticket = only_ticket(db)
        assert ticket.description.startswith("Hello,\n\nour customer sent us the mail below")
        assert "> From: Pavel Dvořák <pavel.dvorak@fabrikam-shop.example>\n" in ticket.description
        assert "> Subject: Quote Q-2291 does not match the order\n" in ticket.description
        assert "> quote Q-2291 lists 40 pallets, but our order 7781 was for 24 pallets." in ticket.description
        assert "Attachments not accepted" not in ticket.description
        assert ticket.mail_html is not None and "40 pallets" in ticket.mail_html
        for active in ACTIVE:
            assert active not in ticket.description_html and active not in ticket.mail_html
        stored = ticket_files(db, ticket.id)
        assert set(stored) == {"Quote Q-2291 does not match the order.eml", "Quote Q-2291.pdf"}
        eml = stored["Quote Q-2291 does not match the order.eml"]
        assert eml.kind == "eml" and not eml.previewable

        admin = make_admin(db)
        for url in (eml.url, f"{eml.url}?inline=1"):
            response = client.get(url, headers=admin.headers)
            assert response.status_code == 200
            assert response.headers["content-type"] == "message/rfc822"
            assert response.headers["content-disposition"].startswith(
                'attachment; filename="Quote Q-2291 does not match the order.eml"'
            )
            assert response.headers["x-content-type-options"] == "nosniff"
            assert "sandbox" in response.headers["content-security-policy"]
            assert response.content == files(parse(raw))["Quote Q-2291 does not match the order.eml"]

    @pytest.mark.parametrize(
        ("name", "expected", "shown"),
        [
            (
                "gmail_nested_forward",
                {"VPN keeps dropping.eml": b"MIME-Version: 1.0\r\n", "vpn-error.png": PNG[:8]},
                "> > From: IT Desk <itdesk@northwind.example>",
            ),
            (
                "lotus_notes_uuencoded",
                {"Lieferschein 7781.pdf": b"%PDF-1.4\n", "notes 7781.txt": b"Order 7781: 24 pallets"},
                "the delivery note for order 7781 is missing",
            ),
            (
                "outlook_winmail_files",
                {"Fehlerprotokoll März.txt": b"Fehlerprotokoll Scanner", "Scanner-Anzeige.png": PNG[:8]},
                "the scanner log and a photo of its display are attached",
            ),
        ],
    )
    def test_the_ticket_gets_the_files_inside_the_mail(
        self, db: Database, mail_settings: MailServer, name: str, expected: dict[str, bytes], shown: str
    ) -> None:
        logged = make_mailbox(db).receive(real(name))

        assert logged.status is MailStatus.CREATED_TICKET, logged.reason
        ticket = only_ticket(db)
        assert shown in ticket.description
        assert "begin 644" not in ticket.description and "winmail.dat" not in ticket.description
        assert "Attachments not accepted" not in ticket.description
        stored = ticket_files(db, ticket.id)
        assert set(stored) == set(expected)
        storage = file_store().storage  # the store the ingest used
        for filename, start in expected.items():
            assert b"".join(storage.open(stored[filename].blob_key)).startswith(start)

    def test_a_reply_that_forwards_a_mail_gets_the_forward_quoted_and_the_eml_as_its_file(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        customer = make_customer(db)
        ticket = make_ticket(db, customer, title="Booking 5521")
        our_id = ids.message_id(
            get_settings().secret_key, "help.example.com", ticket_id=ticket.id, message_id=0
        )
        raw = real("apple_forward_in_alternative").replace(
            b"From: Tim Becker <tim.becker@adventure-works.example>",
            f"From: {customer.email}\r\nIn-Reply-To: {our_id}".encode(),
        )

        logged = make_mailbox(db).receive(raw)

        assert logged.status is MailStatus.APPENDED, logged.reason
        with db.unit_of_work(write=False) as session:
            [message] = session.scalars(select(Message).where(Message.ticket_id == ticket.id))
            [eml] = session.scalars(select(Attachment).where(Attachment.message_id == message.id))
        assert message.body.startswith("Please refund one of the two charges, see Lucy's mail.\n\nTim\n\n")
        assert (
            "> From: Lucy Chen <lucy.chen@icloud.com>\n> Date: Thu, 14 Mar 2024 18:02 UTC\n" in message.body
        )
        assert "> my card was charged twice for booking 5521. Can you refund one?" in message.body
        assert "&gt; my card was charged twice" in message.body_html  # shown as written, escaped
        assert eml.filename == "Booking 5521 charged twice.eml" and eml.kind == "eml"
