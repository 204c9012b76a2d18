"""The `mail.send` job against a real SMTP server (aiosmtpd): delivery, the log's statuses,
retries with backoff, an SMTP server that is down and comes back, and secrets not kept."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.mail.conftest import deliver, mail_log
from tests.mailserver import MailServer, start_server_on
from ticketry.core.clock import now, travel_to
from ticketry.core.config import get_settings
from ticketry.core.db import Database
from ticketry.jobs.models import Job, JobStatus
from ticketry.mail.log.models import MailStatus
from ticketry.mail.outbound import compose, ids
from ticketry.mail.outbound import events as mail_events
from ticketry.mail.outbound import service as mail_out


def queue_mail(db: Database, *, purpose: str = "test", to: str = "ann@example.com") -> int:
    mail = compose.compose(
        sender=compose.parse_from("Ticketry <support@help.example.com>"),
        to=[compose.address(to, "Ann Example")],
        subject="Your ticket TICK-2026-0001",
        text="We are on it.",
        html="<p>We are on it.</p>",
        message_id=ids.plain_message_id("help.example.com"),
    )
    with db.unit_of_work() as session:
        return mail_out.queue(session, mail, purpose=purpose).id


def pending_send_jobs(db: Database) -> list[Job]:
    with db.unit_of_work(write=False) as session:
        return list(
            session.scalars(
                select(Job)
                .where(Job.name == mail_events.SEND.name, Job.status == JobStatus.QUEUED)
                .order_by(Job.id)
            )
        )


def later(minutes: int) -> object:
    return travel_to(now() + timedelta(minutes=minutes))


class TestDelivery:
    def test_a_queued_mail_is_delivered_and_logged(self, db: Database, mailserver: MailServer) -> None:
        queue_mail(db)

        deliver(db)

        [received] = mailserver.messages
        assert received.envelope_from == "support@help.example.com"
        assert received.envelope_to == ["ann@example.com"]
        assert received.message["Subject"] == "Your ticket TICK-2026-0001"
        assert received.message["To"].addresses[0].display_name == "Ann Example"
        plain = received.message.get_body(preferencelist=("plain",))
        assert plain is not None and plain.get_content().strip() == "We are on it."
        [entry] = mail_log(db)
        assert (entry.status, entry.attempts, entry.reason) == (MailStatus.SENT, 1, "")
        assert entry.sent_at is not None
        assert entry.raw is not None  # ordinary mail is kept as sent

    def test_nothing_is_sent_when_the_change_rolls_back(self, db: Database, mailserver: MailServer) -> None:
        class Boom(Exception):
            pass

        with pytest.raises(Boom), db.unit_of_work() as session:
            mail = compose.compose(
                sender=compose.parse_from("support@help.example.com"),
                to=[compose.address("ann@example.com")],
                subject="x",
                text="x",
                message_id=ids.plain_message_id("help.example.com"),
            )
            mail_out.queue(session, mail, purpose="test")
            raise Boom

        deliver(db)

        assert mail_log(db) == []
        assert mailserver.messages == []

    @pytest.mark.parametrize("purpose", sorted(mail_out.SECRET_PURPOSES))
    def test_mail_with_a_secret_link_is_not_kept_once_sent(
        self, db: Database, mailserver: MailServer, purpose: str
    ) -> None:
        queue_mail(db, purpose=purpose)

        deliver(db)

        assert len(mailserver.messages) == 1
        [entry] = mail_log(db)
        assert entry.status is MailStatus.SENT
        assert entry.raw is None

    def test_without_an_smtp_server_the_mail_is_logged_as_not_sent(
        self, db: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TICKETRY_SMTP_HOST", "")
        get_settings.cache_clear()
        queue_mail(db)

        deliver(db)

        [entry] = mail_log(db)
        assert entry.status is MailStatus.NOT_SENT
        assert "TICKETRY_SMTP_HOST" in entry.reason
        assert pending_send_jobs(db) == []
        get_settings.cache_clear()

    def test_running_the_job_twice_delivers_once(self, db: Database, mailserver: MailServer) -> None:
        mail_id = queue_mail(db)
        deliver(db)

        mail_out.send(db, {"mail_log_id": mail_id})

        assert len(mailserver.messages) == 1


class TestRetries:
    def test_a_temporary_refusal_is_retried_with_backoff(self, db: Database, mailserver: MailServer) -> None:
        mailserver.refusals = ["451 4.3.0 Try again later"]
        queue_mail(db)
        started = now()

        deliver(db)

        [entry] = mail_log(db)
        assert (entry.status, entry.attempts) == (MailStatus.RETRYING, 1)
        assert "451" in entry.reason
        [retry] = pending_send_jobs(db)
        assert retry.run_after >= started + timedelta(seconds=mail_out.backoff_seconds(1))
        assert mailserver.messages == []

        with later(2):
            deliver(db)

        [entry] = mail_log(db)
        assert (entry.status, entry.attempts, entry.reason) == (MailStatus.SENT, 2, "")
        assert len(mailserver.messages) == 1

    def test_a_retry_is_not_run_before_its_time(self, db: Database, mailserver: MailServer) -> None:
        mailserver.refusals = ["451 4.3.0 Try again later"]
        queue_mail(db)
        deliver(db)

        deliver(db)  # no time has passed

        assert mail_log(db)[0].status is MailStatus.RETRYING
        assert mailserver.messages == []

    def test_a_permanent_refusal_fails_without_retrying(self, db: Database, mailserver: MailServer) -> None:
        mailserver.refusals = ["554 5.7.1 Rejected"]
        queue_mail(db)

        deliver(db)

        [entry] = mail_log(db)
        assert (entry.status, entry.attempts) == (MailStatus.FAILED, 1)
        assert "554" in entry.reason
        assert pending_send_jobs(db) == []

    def test_backoff_doubles_up_to_an_hour(self) -> None:
        assert [mail_out.backoff_seconds(n) for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
        assert mail_out.backoff_seconds(30) == 3600


class TestSmtpDown:
    def test_smtp_down_then_up_delivers_exactly_once(self, db: Database, smtp_down: int) -> None:
        queue_mail(db)

        deliver(db)

        [entry] = mail_log(db)
        assert entry.status is MailStatus.RETRYING
        assert "Connection" in entry.reason or "refused" in entry.reason.lower()

        server, controller = start_server_on(smtp_down)
        try:
            with later(2):
                deliver(db)
            with later(120):
                deliver(db)
        finally:
            controller.stop()

        assert len(server.messages) == 1
        [entry] = mail_log(db)
        assert (entry.status, entry.attempts) == (MailStatus.SENT, 2)
        assert pending_send_jobs(db) == []

    def test_after_the_last_attempt_the_mail_is_failed_never_dropped_silently(
        self, db: Database, smtp_down: int, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TICKETRY_MAIL_MAX_ATTEMPTS", "3")
        get_settings.cache_clear()
        queue_mail(db)

        for minutes in (0, 2, 10):
            with later(minutes):
                deliver(db)

        [entry] = mail_log(db)
        assert (entry.status, entry.attempts) == (MailStatus.FAILED, 3)
        assert entry.reason
        assert entry.raw is not None  # kept, so an admin can see what was not delivered
        assert pending_send_jobs(db) == []
