"""The IMAP poller against a real Dovecot (issue 5 part 1): mail on the server becomes stored raw
mail, then tickets; the server is told only after ingestion committed; big mail is never fetched;
a server that is down or refuses the login loses nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.imapserver import Dovecot, ImapUser
from tests.mailserver import MailServer
from ticketry.core import crypto
from ticketry.core.clock import now
from ticketry.core.config import get_settings
from ticketry.core.db import Database
from ticketry.jobs.models import Job
from ticketry.mail.inbound import events as mail_events
from ticketry.mail.inbound import poller
from ticketry.mail.inbound import service as mail_service
from ticketry.mail.inbound.models import Mailbox, ProcessedAction
from ticketry.mail.log.models import Direction, MailLog, MailStatus
from ticketry.mailparse.imap import ImapSecurity
from ticketry.tickets.models import Ticket
from ticketry.users import service as users

from .inbound import mail, mail_settings, run_jobs

__all__ = ["mail_settings"]


@pytest.fixture
def imap_env(mail_settings: MailServer, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> Dovecot:
    assert dovecot.ca_file is not None
    monkeypatch.setenv("TICKETRY_MAIL_CA_FILE", dovecot.ca_file)
    get_settings.cache_clear()
    return dovecot


def add_mailbox(
    db: Database,
    dovecot: Dovecot,
    user: ImapUser,
    *,
    security: ImapSecurity = ImapSecurity.STARTTLS,
    action: ProcessedAction = ProcessedAction.MARK_SEEN,
    password: str | None = None,
) -> int:
    with db.unit_of_work() as session:
        mailbox = Mailbox(
            name="Support",
            address=f"{user.name}@help.example.com",
            department_id=users.find_department(session, "technical").id,
            imap_host=dovecot.host,
            imap_port=dovecot.tls_port if security is ImapSecurity.TLS else dovecot.port,
            imap_security=security,
            imap_username=user.name,
            imap_password_sealed=crypto.seal(mail_service.SEAL_PURPOSE, password or user.password),
            processed_action=action,
            processed_folder="Processed",
            last_error="",
            last_uid=0,
        )
        session.add(mailbox)
        session.flush()
        return mailbox.id


def inbound(db: Database) -> list[MailLog]:
    with db.unit_of_work(write=False) as session:
        return list(
            session.scalars(
                select(MailLog).where(MailLog.direction == Direction.INBOUND).order_by(MailLog.id)
            )
        )


def mailbox(db: Database, mailbox_id: int) -> Mailbox:
    with db.unit_of_work(write=False) as session:
        found = session.get(Mailbox, mailbox_id)
        assert found is not None
        return found


def ticket_count(db: Database) -> int:
    with db.unit_of_work(write=False) as session:
        return len(list(session.scalars(select(Ticket.id))))


class TestPoll:
    def test_new_mail_is_stored_then_ingested_then_marked_seen(
        self, db: Database, imap_env: Dovecot, imap_user: ImapUser
    ) -> None:
        uids = imap_env.append_many(imap_user, [mail(subject=f"Mail {n}") for n in range(3)])
        mailbox_id = add_mailbox(db, imap_env, imap_user)
        assert poller.poll(db, mailbox_id) == 3
        assert [e.status for e in inbound(db)] == [MailStatus.RECEIVED] * 3
        assert all("\\Seen" not in imap_env.flags(imap_user, "INBOX", uid) for uid in uids), (
            "not before ingest"
        )
        assert mailbox(db, mailbox_id).last_uid == max(uids)
        run_jobs(db)
        assert ticket_count(db) == 3
        assert poller.poll(db, mailbox_id) == 0
        assert all("\\Seen" in imap_env.flags(imap_user, "INBOX", uid) for uid in uids)
        assert not any(e.imap_pending for e in inbound(db))

    def test_processed_mail_can_be_moved_to_a_folder(
        self, db: Database, imap_env: Dovecot, imap_user: ImapUser
    ) -> None:
        imap_env.append(imap_user, mail())
        mailbox_id = add_mailbox(
            db, imap_env, imap_user, security=ImapSecurity.TLS, action=ProcessedAction.MOVE
        )
        poller.poll(db, mailbox_id)
        run_jobs(db)
        poller.poll(db, mailbox_id)
        assert imap_env.uids(imap_user, "INBOX") == []
        assert len(imap_env.uids(imap_user, "Processed")) == 1

    def test_mail_over_the_size_limit_is_logged_and_never_downloaded(
        self, db: Database, imap_env: Dovecot, imap_user: ImapUser, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TICKETRY_MAIL_MAX_MESSAGE_SIZE", "2000")
        get_settings.cache_clear()
        imap_env.append(imap_user, mail(subject="Huge", body="x" * 5000))
        imap_env.append(imap_user, mail(subject="Small"))
        mailbox_id = add_mailbox(db, imap_env, imap_user)
        assert poller.poll(db, mailbox_id) == 1
        big, small = inbound(db)
        assert big.status is MailStatus.REJECTED and big.raw is None and big.subject == "Huge"
        assert "over the limit" in big.reason
        assert small.status is MailStatus.RECEIVED

    def test_a_refused_login_is_shown_on_the_mailbox_and_loses_nothing(
        self, db: Database, imap_env: Dovecot, imap_user: ImapUser
    ) -> None:
        uid = imap_env.append(imap_user, mail())
        mailbox_id = add_mailbox(db, imap_env, imap_user, password="wrong")
        assert poller.poll(db, mailbox_id) == 0
        state = mailbox(db, mailbox_id)
        assert state.last_error and state.poll_locked_by is None and state.last_uid == 0
        assert imap_env.uids(imap_user) == [uid]
        with db.unit_of_work() as session:
            session.execute(
                update(Mailbox)
                .where(Mailbox.id == mailbox_id)
                .values(imap_password_sealed=crypto.seal(mail_service.SEAL_PURPOSE, imap_user.password))
            )
        assert poller.poll(db, mailbox_id) == 1
        assert mailbox(db, mailbox_id).last_error == ""

    def test_a_new_uidvalidity_reads_the_folder_again_without_duplicates(
        self, db: Database, imap_env: Dovecot, imap_user: ImapUser
    ) -> None:
        imap_env.append(imap_user, mail(message_id="<once@customer.example>"))
        mailbox_id = add_mailbox(db, imap_env, imap_user)
        poller.poll(db, mailbox_id)
        run_jobs(db)
        with db.unit_of_work() as session:  # as if the server had rebuilt its index since
            session.execute(
                update(Mailbox).where(Mailbox.id == mailbox_id).values(uidvalidity=1, last_uid=99)
            )
            session.execute(update(MailLog).values(imap_uidvalidity=1))
        poller.poll(db, mailbox_id)
        run_jobs(db)
        assert [e.status for e in inbound(db)] == [MailStatus.CREATED_TICKET, MailStatus.DUPLICATE]
        assert ticket_count(db) == 1

    def test_one_poll_at_a_time_per_mailbox(
        self, db: Database, imap_env: Dovecot, imap_user: ImapUser
    ) -> None:
        imap_env.append(imap_user, mail())
        mailbox_id = add_mailbox(db, imap_env, imap_user)
        with db.unit_of_work() as session:
            session.execute(
                update(Mailbox)
                .where(Mailbox.id == mailbox_id)
                .values(poll_locked_by="someone-else", poll_locked_until=now() + timedelta(minutes=5))
            )
        assert poller.poll(db, mailbox_id) == 0
        assert inbound(db) == []
        with db.unit_of_work() as session:  # the other poller died: its lease runs out
            session.execute(
                update(Mailbox)
                .where(Mailbox.id == mailbox_id)
                .values(poll_locked_until=now() - timedelta(seconds=1))
            )
        assert poller.poll(db, mailbox_id) == 1


class TestSchedule:
    def test_a_due_mailbox_is_queued_once_however_many_schedulers_ask(
        self, db: Database, imap_env: Dovecot, imap_user: ImapUser
    ) -> None:
        mailbox_id = add_mailbox(db, imap_env, imap_user)
        assert poller.schedule_due(db) == 1
        assert poller.schedule_due(db) == 0
        with db.unit_of_work(write=False) as session:
            jobs = list(session.scalars(select(Job).where(Job.name == mail_events.POLL.name)))
        assert [job.payload["mailbox_id"] for job in jobs] == [mailbox_id]

    def test_the_queued_poll_runs_in_the_worker(
        self, db: Database, imap_env: Dovecot, imap_user: ImapUser
    ) -> None:
        imap_env.append(imap_user, mail())
        add_mailbox(db, imap_env, imap_user)
        poller.schedule_due(db)
        run_jobs(db)
        assert [e.status for e in inbound(db)] == [MailStatus.CREATED_TICKET]
        assert ticket_count(db) == 1
