"""Two workers can take a mail and the customer's quick follow-up to it at the same moment
(issue 14 A.10's two-worker run): the follow-up must not open a ticket of its own because the
first is not in yet. It waits for the mail it answers, then threads to its ticket."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from tests.factories import make_customer
from ticketry.core.clock import now, travel_to
from ticketry.core.db import Database
from ticketry.jobs.models import Job, JobStatus
from ticketry.mail.log.models import MailStatus

from .inbound import MailServer, log_entry, mail, mail_settings, make_mailbox, run_jobs

__all__ = ["mail_settings"]  # a fixture


def test_a_reply_ingested_before_the_mail_it_answers_waits_and_then_threads(
    db: Database, mail_settings: MailServer
) -> None:
    inbox = make_mailbox(db)
    customer = make_customer(db)
    first = inbox.receive(mail(sender=customer.email, message_id="<first@customer.example>"), run=False)
    follow_up = inbox.receive(
        mail(
            sender=customer.email,
            subject="Re: The printer is on fire",
            body="Forgot to say: it is the one by the window.",
            message_id="<second@customer.example>",
            in_reply_to="<first@customer.example>",
            references="<first@customer.example>",
        ),
        run=False,
    )
    with db.unit_of_work() as session:  # the other worker is still busy with the first mail
        session.execute(
            update(Job)
            .where(Job.payload["mail_log_id"].as_integer() == first.id)
            .values(run_after=now() + timedelta(seconds=60))
        )
    run_jobs(db)
    waiting = log_entry(db, follow_up.id)
    assert waiting.status is MailStatus.RECEIVED and waiting.ticket_id is None
    assert f"answers mail #{first.id}" in (waiting.reason or "")

    with travel_to(now() + timedelta(seconds=61)):
        run_jobs(db)  # the follow-up, due first, waits once more; then the first mail goes in
    assert log_entry(db, first.id).status is MailStatus.CREATED_TICKET
    with travel_to(now() + timedelta(seconds=70)):
        run_jobs(db)
    opened, answered = log_entry(db, first.id), log_entry(db, follow_up.id)
    assert answered.status is MailStatus.APPENDED
    assert answered.ticket_id == opened.ticket_id is not None
    assert_no_dead_jobs(db)


def test_a_reply_waits_ten_minutes_at_most(db: Database, mail_settings: MailServer) -> None:
    """The mail it answers may be stuck (its files cannot be scanned while the scanner is down):
    after ten minutes the reply goes in as any unthreaded mail does, as a ticket of its own."""
    inbox = make_mailbox(db)
    customer = make_customer(db)
    first = inbox.receive(mail(sender=customer.email, message_id="<stuck@customer.example>"), run=False)
    with db.unit_of_work() as session:
        session.execute(
            update(Job)
            .where(Job.payload["mail_log_id"].as_integer() == first.id)
            .values(run_after=now() + timedelta(days=1))
        )
    follow_up = inbox.receive(
        mail(sender=customer.email, subject="Re: stuck", in_reply_to="<stuck@customer.example>")
    )
    assert follow_up.status is MailStatus.RECEIVED
    with travel_to(now() + timedelta(minutes=11)):
        run_jobs(db)
    assert log_entry(db, follow_up.id).status is MailStatus.CREATED_TICKET
    assert_no_dead_jobs(db)


def assert_no_dead_jobs(db: Database) -> None:
    with db.unit_of_work(write=False) as session:
        assert session.scalars(select(Job.last_error).where(Job.status == JobStatus.DEAD)).all() == []
