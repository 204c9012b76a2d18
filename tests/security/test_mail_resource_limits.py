"""One mail must not stall the worker (issue 12 item 4; docs/product.md §4, mail in).

The attack class is algorithmic complexity denial of service: CWE-400 (uncontrolled resource
consumption) through CWE-407 (inefficient algorithmic complexity) and CWE-1333 (inefficient
regular expression complexity). Anyone can mail the helpdesk; the worker that reads the mail
also sends password resets and notifications, so a mail that costs minutes of CPU delays
everyone's mail (two 1 MB mails of `<a>` tags delayed a password reset by 40 s).

Reading is checked for linear growth: the same hostile shape at four times the size must cost
about four times the CPU (a quadratic path costs sixteen), measured in the reading thread's CPU
time so that a busy machine does not decide. Then the budget: a stage that runs over its time
budget marks the mail, the ingest refuses it (the mail log says why, the raw mail stays for an
admin) and the worker goes on with the next job.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from tests.factories import make_admin
from tests.mail.inbound import mail, mail_settings, make_mailbox, run_jobs
from tests.mailserver import MailServer, mailserver
from ticketry.core.db import Database
from ticketry.mail.inbound import service as mail_service
from ticketry.mail.log.models import MailLog, MailStatus
from ticketry.mailparse import budget
from ticketry.mailparse.htmlbody import html_to_text, sanitise_html
from ticketry.mailparse.parse import parse
from ticketry.tickets.models import Ticket

__all__ = ["mail_settings", "mailserver"]

KB = 1024
NEGLIGIBLE = 0.05  # CPU seconds below which the larger input is fast whatever the ratio


def cpu_seconds(work: Callable[[], object], runs: int = 2) -> float:
    """The fastest of `runs` runs, in the thread's CPU time."""
    best = float("inf")
    for _ in range(runs):
        started = time.thread_time()
        work()
        best = min(best, time.thread_time() - started)
    return best


def assert_linear(build: Callable[[int], bytes], size: int, factor: int = 4) -> None:
    """Reading `build(factor * size)` costs at most twice `factor` times reading `build(size)`:
    linear growth costs `factor` times more, quadratic growth `factor` squared."""
    small, large = build(size), build(factor * size)
    small_cost = cpu_seconds(lambda: parse(small))
    large_cost = cpu_seconds(lambda: parse(large), runs=1 if factor > 4 else 2)
    assert large_cost < NEGLIGIBLE or large_cost < 2 * factor * small_cost, (
        f"{len(small):,} bytes: {small_cost:.3f} s, {len(large):,} bytes: {large_cost:.3f} s of CPU"
    )


def html_mail(unit: str, size: int, prefix: str = "", suffix: str = "") -> bytes:
    body = prefix + unit * (size // len(unit)) + suffix
    return b"From: a@example.org\r\nContent-Type: text/html; charset=utf-8\r\n\r\n" + body.encode()


class TestReadingIsLinear:
    def test_html_of_links(self) -> None:
        """CWE-407: the HTML-to-text step joined the whole line at every link (1 MB: 5-20 s)."""
        assert_linear(lambda size: html_mail("x<a href=http://e.x/>x</a>", size), 128 * KB)

    def test_html_of_links_straight_to_text(self) -> None:
        """CWE-407: the same through `html_to_text` alone, past the 1 MB cut `parse` applies."""
        small, _ = sanitise_html("x<a href=http://e.x/>x</a>" * 10_000)
        large, _ = sanitise_html("x<a href=http://e.x/>x</a>" * 40_000)
        small_cost = cpu_seconds(lambda: html_to_text(small))
        large_cost = cpu_seconds(lambda: html_to_text(large))
        assert large_cost < NEGLIGIBLE or large_cost < 8 * small_cost

    @pytest.mark.parametrize(
        ("prefix", "suffix"),
        [
            ("<!-->", "-->"),
            ("<!--->", "-->"),
            ("<!-- --!>", "-->"),
            ("<svg><style>", ""),
            ("<math><style>", ""),
        ],
        ids=["empty comment", "short comment", "bang comment", "svg style", "math style"],
    )
    def test_nesting_hidden_from_the_nesting_limit(self, prefix: str, suffix: str) -> None:
        """CWE-407: html5ever is quadratic in nesting depth; a comment ended the HTML5 way
        (`<!-->`, `--!>`) or a `<style>` in SVG hid the nested tags from the depth limit (1 MB of
        `<div>` after them: minutes)."""
        assert_linear(lambda size: html_mail("<div>", size, prefix, suffix), 16 * KB)

    @pytest.mark.parametrize(
        ("prefix", "unit"),
        [
            ("<table>", "<p>"),
            ("<table>", "x<i></i>"),
            ("<table>", "</p>"),
            ("", "<table>x<i></i></table>"),
            ("<div><table></div>", "x<i></i>"),
            ("<table><template><table>" + "x<i></i>" * 1100 + "</template>", "x<i></i>"),
        ],
        ids=[
            "p",
            "text and i",
            "end p",
            "tables",
            "table kept open across an end tag",
            "table behind a template",
        ],
    )
    def test_content_fostered_out_of_tables(self, prefix: str, unit: str) -> None:
        """CWE-407: html5ever looks a table up among its parent's children for everything moved
        in front of it (1 MB of `<p>` in a `<table>`: 17 s), also when an end tag the parser
        ignores (`</div>` across the table) or a template hides the table from a naive model.
        Its quadratic term is small, so the sizes are 128 KB and 1 MB."""
        assert_linear(lambda size: html_mail(unit, size, prefix), 128 * KB, factor=8)

    def test_a_tag_with_very_many_attributes(self) -> None:
        """CWE-407: html5ever compares each attribute with those before it on the same tag (one
        tag of 120,000 attributes: 5.6 s), also behind a quoted `>` that a naive tag scan stops at."""

        def build(size: int) -> bytes:
            attributes = " ".join(f"a{n}=1" for n in range(size // 8))
            return html_mail("x", 1, f'<a title=">" {attributes}>', "</a>")

        assert_linear(build, 64 * KB)

    @pytest.mark.parametrize("filler", ["\n", " \n"], ids=["blank lines", "space lines"])
    def test_failure_notice_of_blank_lines(self, filler: str) -> None:
        """CWE-1333: `^\\s*` in the bounce patterns let every line start rescan all blank lines
        below it (20,000 blank lines: 6-12 s; 1 MB: hours)."""

        def build(size: int) -> bytes:
            return (
                b"From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n\r\nx"
                + filler.encode() * (size // len(filler))
                + b"x"
            )

        assert_linear(build, 8 * KB)


def ticket_count(db: Database) -> int:
    with db.unit_of_work(write=False) as session:
        return session.scalar(select(func.count()).select_from(Ticket)) or 0


class TestBudget:
    def test_a_stage_over_its_budget_marks_the_mail_and_keeps_no_unsanitised_html(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """CWE-400: whatever shape no one measured, a stage over its CPU budget stops the reading."""
        monkeypatch.setitem(budget.STAGE_SECONDS, budget.HTML_SANITISING, -1.0)
        raw = html_mail("<p>hello <script>alert(1)</script></p>", 1000)

        parsed = parse(raw)

        assert "HTML sanitising" in parsed.over_budget
        assert parsed.html is None or "<script" not in parsed.html
        assert parsed.text == ""  # HTML to text was skipped too
        assert parsed.over_budget in parsed.problems

    def test_a_mail_within_its_budget_is_not_marked(self) -> None:
        parsed = parse(html_mail("x<a href=http://e.x/>x</a>", 1024 * KB))

        assert parsed.over_budget == ""
        assert parsed.text.startswith("xx (http://e.x/)xx (http://e.x/)")

    def test_a_mail_over_budget_is_refused_kept_and_the_worker_moves_on(
        self, db: Database, mail_settings: MailServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """CWE-400: the over-budget mail is logged `rejected` with the reason, its raw mail stays
        for an admin to read, no ticket is made, and the next mail is ingested as usual."""
        inbox = make_mailbox(db)
        monkeypatch.setitem(budget.STAGE_SECONDS, budget.HTML_SANITISING, -1.0)
        hostile = inbox.receive(mail(html="<p>" + "<a href='https://e.x/'>x</a>" * 1000 + "</p>"), run=False)
        ordinary = inbox.receive(mail(subject="Printer", body="The printer is on fire."), run=False)

        run_jobs(db)

        with db.unit_of_work(write=False) as session:
            refused = session.get(MailLog, hostile.id)
            taken = session.get(MailLog, ordinary.id)
            assert refused is not None and taken is not None
            assert refused.status is MailStatus.REJECTED
            assert "HTML sanitising" in refused.reason and "CPU" in refused.reason
            assert taken.status is MailStatus.CREATED_TICKET
        assert ticket_count(db) == 1
        admin = make_admin(db)
        with db.unit_of_work(write=False) as session:
            assert b"https://e.x/" in mail_service.raw_mail(session, admin.actor, hostile.id)
