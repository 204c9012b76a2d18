# ruff: noqa: RUF001, RUF002
# (the attributions are Russian and other languages; their letters are meant, not look-alikes)
"""Attribution lines wrapped over two or three lines (issue 14 A.7; docs/product.md §4: "quoted history
stripped for display"): a Russian iPhone's "26 нояб. 2026 г., в 14:03, Иван Петров
<ivan@example.ru>" / "написал(а):" left its first line in the reply. Such an attribution is cut in
every language the quote stripper knows; a line of the reply that merely ends in "wrote:" stays.

Fixtures: tests/mail/real_world/quote_*.eml.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.mail.inbound import mail, mail_settings, make_mailbox
from tests.mailserver import MailServer
from ticketry.core.db import Database
from ticketry.mail.log.models import MailStatus
from ticketry.mailparse.parse import parse
from ticketry.mailparse.quotes import reply_text
from ticketry.messages.models import Message
from ticketry.tickets.models import Ticket

__all__ = ["mail_settings"]

REAL_WORLD = Path(__file__).parent / "real_world"
QUOTED = "> Здравствуйте,\n>\n> перезагрузите принтер.\n>\n> Поддержка"
ANSWER = "Спасибо, помогло."


class TestWrappedAttributions:
    @pytest.mark.parametrize(
        "attribution",
        [
            # Russian: iOS (wrapped before the verb, and inside the address), Gmail (no verb),
            # Thunderbird ("пишет"), an Android client that wraps after the name
            "26 нояб. 2026 г., в 14:03, Иван Петров <ivan@example.ru>\nнаписал(а):",
            "26 нояб. 2026 г., в 14:03, Иван Петров\n<ivan@example.ru> написал:",
            "26 нояб. 2026 г., в 14:03, Служба поддержки Ticketry <\nsupport@help.example.com>\nнаписал(а):",
            "чт, 26 нояб. 2026 г. в 14:03, Иван Петров <\nivan@example.ru>:",
            "чт, 26 нояб. 2026 г. в 14:03, Иван Петров <ivan@example.ru>:",
            "26.11.2026 14:03, Иван Петров пишет:",
            "Четверг, 26 ноября 2026, 14:03 +03:00 от Иван Петров\n<ivan@example.ru> написал:",
            # the other languages, wrapped the same way
            "On Thu, Nov 26, 2026 at 2:03 PM Ivan Petrov <\nivan@example.com> wrote:",
            "Le jeu. 26 nov. 2026 à 14:03, Ivan Petrov <ivan@example.fr>\na écrit :",
            "Am Do., 26. Nov. 2026 um 14:03 Uhr schrieb Ivan Petrov <\nivan@example.de>:",
            "El jue, 26 nov 2026 a las 14:03, Ivan Petrov\n(<ivan@example.es>) escribió:",
            "Op do 26 nov. 2026 om 14:03 heeft Ivan Petrov <ivan@example.nl>\nhet volgende geschreven:",
            "Il giorno gio 26 nov 2026 alle ore 14:03 Ivan Petrov <\nivan@example.it> ha scritto:",
            "Em qui., 26 de nov. de 2026 às 14:03, Ivan Petrov <\nivan@example.pt> escreveu:",
            "26 nov. 2026 kl. 14:03 skrev Ivan Petrov <\nivan@example.se>:",
            "Ivan Petrov (ivan@example.fi) kirjoitti\n26.11.2026 klo 14.03:",
            "W dniu 26.11.2026 o 14:03, Ivan Petrov <ivan@example.pl>\nnapisał:",
        ],
    )
    def test_the_attribution_goes_with_the_quote(self, attribution: str) -> None:
        for separator in ("\n\n", "\n"):
            text = f"{ANSWER}{separator}{attribution}\n\n{QUOTED}\n"

            assert reply_text(text) == ANSWER, (separator, attribution)

    def test_a_signature_and_then_the_attribution(self) -> None:
        attribution = "26 нояб. 2026 г., в 14:03, Иван <i@example.ru>\nнаписал:"
        text = f"{ANSWER}\n\nОтправлено с iPhone\n\n{attribution}\n{QUOTED}"

        assert reply_text(text) == ANSWER

    def test_an_inline_answer_below_a_wrapped_attribution_keeps_its_quotes(self) -> None:
        text = (
            "26 нояб. 2026 г., в 14:03, Служба поддержки <s@example.ru>\nнаписал(а):\n"
            "> Какая версия?\n4.2\n> Каждый раз?\nТолько после обеда.\n"
        )

        assert reply_text(text) == text.strip()


class TestOrdinaryText:
    """A line of the reply that ends in "wrote:" is no attribution: it names no address, or new
    text follows the quote below it."""

    @pytest.mark.parametrize(
        "text",
        [
            "I ran the installer at 09:15 and the log\nwrote:\n\n> error 0x80070005\n\nWhat does it mean?",
            "Я запустил установку в 09:15, и журнал\nнаписал:\n\n> ошибка 5\n\nЧто это значит?",
            "Hi,\n\nour courier (desk@courier.example) on 26 Nov\nwrote:\n> parcel held\nIs that true?",
        ],
    )
    def test_text_that_ends_in_wrote_in_the_middle_of_a_reply_stays(self, text: str) -> None:
        assert reply_text(text) == text

    def test_a_wrote_line_above_a_trailing_quote_keeps_the_sentence_it_ends(self) -> None:
        """Only the quote goes: the reply's own sentence, which happens to end in "wrote:", stays."""
        text = "Thanks.\n\nThe log I sent on 5 March\nwrote:\n\n> disk full\n"

        assert reply_text(text) == "Thanks.\n\nThe log I sent on 5 March\nwrote:"

    def test_a_date_and_wrote_without_an_address_over_two_lines_is_not_cut(self) -> None:
        text = "Thanks.\n\nAt 14:03 on the phone my colleague\nwrote:\n\n> call back on Monday\n"

        assert reply_text(text) == "Thanks.\n\nAt 14:03 on the phone my colleague\nwrote:"


class TestFixtures:
    def test_the_ios_reply_shows_only_the_answer(self) -> None:
        parsed = parse((REAL_WORLD / "quote_ios_russian_wrapped.eml").read_bytes())

        assert parsed.reply_text == "Спасибо, после перезагрузки всё печатает."
        assert "написал(а):" in parsed.text

    def test_the_mid_reply_wrote_keeps_the_whole_reply(self) -> None:
        parsed = parse((REAL_WORLD / "quote_wrote_mid_reply.eml").read_bytes())

        assert parsed.reply_text == parsed.text.strip()
        assert "What does the error mean?" in parsed.reply_text


class TestIngest:
    def test_the_reply_on_the_ticket_is_only_the_new_text(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        inbox = make_mailbox(db)
        first = inbox.receive(
            mail(
                sender="Иван Петров <ivan@customer.example>",
                subject="Принтер не печатает",
                message_id="<first@customer.example>",
            )
        )
        assert first.status is MailStatus.CREATED_TICKET
        raw = (REAL_WORLD / "quote_ios_russian_wrapped.eml").read_bytes()
        reply = inbox.receive(
            raw.replace(b"<ticketry.placeholder@help.example.com>", b"<first@customer.example>")
        )

        assert reply.status is MailStatus.APPENDED and reply.ticket_id == first.ticket_id, reply.reason
        with db.unit_of_work(write=False) as session:
            [message] = session.scalars(select(Message).where(Message.ticket_id == first.ticket_id))
        assert message.body.strip() == "Спасибо, после перезагрузки всё печатает."
        assert "Перезагрузите, пожалуйста, принтер." in (message.mail_text or "")

    def test_a_mail_whose_line_ends_in_wrote_keeps_its_question(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        entry = make_mailbox(db).receive((REAL_WORLD / "quote_wrote_mid_reply.eml").read_bytes())

        assert entry.status is MailStatus.CREATED_TICKET
        with db.unit_of_work(write=False) as session:
            ticket = session.get(Ticket, entry.ticket_id or 0)
            assert ticket is not None
        assert "What does the error mean?" in ticket.description
        assert "the log\nwrote:" in ticket.description
