"""Headers written as raw 8-bit text in a charset nobody declared (issue 14 A.6; docs/product.md §4, mail
in): a KOI8-R Subject, a windows-1251 display name. Not UTF-8, they were read as windows-1252 and
became mojibake; now the charset is guessed (`headercharset`, with charset-normalizer), the guess
is said in the mail's problems, and when it is not confident the old reading stays.

Fixtures: tests/mail/real_world/charset_*.eml.
"""

# ruff: noqa: RUF001
# (the test texts are Russian, Greek and Polish; their letters are meant, not look-alikes)

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.mail.inbound import mail_settings, make_mailbox
from tests.mailserver import MailServer
from ticketry.core.db import Database
from ticketry.mail.log.models import MailStatus
from ticketry.mailparse.decode import decode_loose, read_header_section
from ticketry.mailparse.headercharset import MAX_GUESSED_BYTES, guess_charset
from ticketry.mailparse.parse import parse
from ticketry.tickets.models import Ticket
from ticketry.users.models import User

__all__ = ["mail_settings"]

REAL_WORLD = Path(__file__).parent / "real_world"


def fixture(name: str) -> bytes:
    return (REAL_WORLD / name).read_bytes()


def headers(subject: bytes, from_name: bytes = b"Anna", *more: bytes) -> bytes:
    """A mail whose Subject and From display name are these raw bytes, with no charset anywhere."""
    lines = [b"From: " + from_name + b" <anna@example.org>", b"Subject: " + subject, *more]
    return b"\r\n".join(lines) + b"\r\n\r\nbody"


class TestGuessing:
    @pytest.mark.parametrize(
        ("text", "charset"),
        [
            ("Не работает принтер на третьем этаже", "koi8_r"),
            ("Не работает принтер на третьем этаже", "cp1251"),
            ("Счёт №1234 за ноябрь", "cp1251"),
            ("ООО «Ромашка»", "cp1251"),
            ("Ошибка", "koi8_r"),
            ("Zażółć gęślą jaźń", "cp1250"),
            ("Łódź", "iso8859_2"),
            ("Příliš žluťoučký kůň", "cp1250"),
            ("Καλημέρα σας", "cp1253"),
            ("プリンターが壊れました", "cp932"),
            ("プリンターが壊れました", "euc_jp"),
            ("打印机坏了", "gb18030"),
            ("印表機壞了", "big5hkscs"),
            ("프린터가 고장났습니다", "cp949"),
        ],
    )
    def test_a_subject_in_an_undeclared_charset_is_read_in_it(self, text: str, charset: str) -> None:
        parsed = parse(headers(text.encode(charset)))

        assert parsed.subject == text
        assert len(parsed.problems) == 1 and "(a guess)" in parsed.problems[0]

    @pytest.mark.parametrize(
        ("text", "charset"),
        [
            ("Grüße aus München", "latin-1"),
            ("Réunion à propos du problème", "cp1252"),
            ("¿Qué tal? Señor Muñoz", "latin-1"),
            ("Øystein Åsen", "latin-1"),
            ("Preis 5½ €", "cp1252"),
            ("“Smart” quotes – and dashes", "cp1252"),
            ("Ærø", "latin-1"),
        ],
    )
    def test_western_text_is_read_as_before_without_a_note(self, text: str, charset: str) -> None:
        parsed = parse(headers(text.encode(charset)))

        assert parsed.subject == text
        assert parsed.problems == ()

    @pytest.mark.parametrize(
        "data",
        [
            "会議".encode("cp932"),  # two kanji: Chinese, Japanese or Korean alike
            "Ёж".encode("koi8_r") + b" \x81\x8d",  # a hedgehog and two bytes no candidate reads cleanly
            b"\xa4\xa6 \xa7\xb1\xb6",  # currency sign, broken bar, section, plus-minus, pilcrow
        ],
    )
    def test_without_a_confident_guess_the_old_reading_stays(self, data: bytes) -> None:
        parsed = parse(headers(data))

        assert guess_charset(data) is None
        assert parsed.subject == decode_loose(data)
        assert parsed.problems == ()

    def test_utf_8_stays_utf_8(self) -> None:
        parsed = parse(headers("Не работает принтер".encode()))

        assert parsed.subject == "Не работает принтер" and parsed.problems == ()

    def test_subject_and_display_name_are_guessed_together(self) -> None:
        """One guess for the section: "Юля" alone is short, with the subject it is plain."""
        parsed = parse(headers("Заявка на ремонт".encode("cp1251"), "Юля".encode("cp1251")))

        assert (parsed.subject, parsed.from_name) == ("Заявка на ремонт", "Юля")
        assert parsed.problems == ("Headers in an undeclared charset were read as windows-1251 (a guess)",)

    def test_the_charset_the_body_declares_is_tried_first(self) -> None:
        """ "Привет" alone reads as three Chinese characters in GB18030 too; the body says KOI8-R."""
        data = headers("Привет".encode("koi8_r"), b"Anna", b"Content-Type: text/plain; charset=koi8-r")

        parsed = parse(data)

        assert parsed.subject == "Привет"
        assert parsed.problems == (
            "Headers in an undeclared charset were read as KOI8-R, the charset its body declares (a guess)",
        )

    def test_an_encoded_word_beside_raw_text_is_still_decoded(self) -> None:
        subject = "Счёт".encode("cp1251") + b" =?utf-8?q?=E2=84=961234?= " + "за ноябрь".encode("cp1251")

        assert parse(headers(subject)).subject == "Счёт №1234 за ноябрь"

    def test_an_attachment_name_in_raw_koi8_r_is_read_too(self) -> None:
        lines = 'Content-Type: application/pdf; name="счёт.pdf"\r\nContent-Disposition: attachment\r\n\r\n'
        part = read_header_section(lines.encode("koi8_r"))

        assert part.get("content-type") == 'application/pdf; name="счёт.pdf"'

    def test_the_guess_looks_at_a_bounded_sample(self) -> None:
        data = "Не работает принтер ".encode("koi8_r") * 50_000  # 1 MB
        started = time.process_time()

        guessed = guess_charset(data)

        assert guessed is not None and guessed[0] == "koi8_r"
        assert time.process_time() - started < 2.0
        assert len(data) > 100 * MAX_GUESSED_BYTES


class TestIngest:
    @pytest.mark.parametrize(
        ("name", "address", "customer_name", "title", "text"),
        [
            (
                "charset_koi8r_subject.eml",
                "ivan@customer.example",
                "Иван Петров",
                "Не работает принтер на третьем этаже",
                "Принтер на третьем этаже не печатает с утра.",
            ),
            (
                "charset_windows1251_multipart.eml",
                "olga@customer.example",
                "Ольга Смирнова",
                "Счёт №1234 за ноябрь не пришёл",
                "Счёт за ноябрь так и не пришёл на почту.",
            ),
            (
                "charset_latin1_subject.eml",
                "joerg@customer.example",
                "Jörg Müller",
                "Grüße aus München: Drucker defekt",
                "Der Drucker im Büro druckt nur noch leere Seiten.",
            ),
        ],
    )
    def test_the_ticket_shows_the_subject_and_the_customer_their_name(
        self,
        db: Database,
        mail_settings: MailServer,
        name: str,
        address: str,
        customer_name: str,
        title: str,
        text: str,
    ) -> None:
        entry = make_mailbox(db).receive(fixture(name))

        assert entry.status is MailStatus.CREATED_TICKET, entry.reason
        assert entry.subject == title
        with db.unit_of_work(write=False) as session:
            customer = session.scalars(select(User).where(User.email == address)).one()
            ticket = session.get(Ticket, entry.ticket_id or 0)
            assert ticket is not None
        assert customer.name == customer_name
        assert (ticket.customer_id, ticket.title) == (customer.id, title)
        assert text in ticket.description
        guessed = [problem for problem in entry.problems if "(a guess)" in problem]
        assert len(guessed) == (0 if name == "charset_latin1_subject.eml" else 1)
