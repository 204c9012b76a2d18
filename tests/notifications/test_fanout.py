"""One event, one batch (issue 13): an event's mails are logged together and handed to one
`mail.send` job, which delivers them over one SMTP connection; each mail keeps its own outcome
(sent, refused for good, retried with backoff), and running a batch again sends only what was not
recorded as sent. The agents' mail is rendered once, each recipient's name filled in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from markupsafe import escape
from sqlalchemy import select, update

from tests.factories import (
    delete_message,
    make_admin,
    make_agent,
    make_customer,
    make_message,
    make_ticket,
    make_user,
    watch,
)
from tests.mailserver import MailServer, start_server_on
from tests.web.test_query_counts import counting
from ticketry.core.clock import now, travel_to
from ticketry.core.db import Database
from ticketry.jobs.models import Job, JobStatus
from ticketry.mail.log.models import MailLog, MailStatus
from ticketry.mail.outbound import events as mail_events
from ticketry.mail.outbound import service as mail_out
from ticketry.notifications import tasks as notification_tasks
from ticketry.users.models import Role

from .conftest import content, deliver, mail_log


def queued_sends(db: Database) -> list[Job]:
    with db.unit_of_work(write=False) as session:
        return list(
            session.scalars(
                select(Job)
                .where(Job.name == mail_events.SEND.name, Job.status == JobStatus.QUEUED)
                .order_by(Job.id)
            )
        )


def handle_created(db: Database, ticket_id: int) -> None:
    """The `tickets.created` job's handler as the worker runs it: read, then write."""
    with db.unit_of_work(write=False) as session:
        writes = notification_tasks.ticket_created(session, {"ticket_id": ticket_id})
    assert writes is not None
    with db.unit_of_work() as session:
        writes(session)


def later(minutes: int) -> Any:
    return travel_to(now() + timedelta(minutes=minutes))


class TestOneBatchPerEvent:
    def test_a_new_ticket_queues_one_send_job_for_all_its_mails(self, db: Database) -> None:
        customer = make_customer(db)
        agents = [make_agent(db) for _ in range(3)]
        ticket = make_ticket(db, customer)
        handle_created(db, ticket.id)
        [job] = queued_sends(db)
        entries = mail_log(db)
        assert job.payload == {"mail_log_ids": [entry.id for entry in entries]}
        assert [entry.user_id for entry in entries] == [customer.id, *(agent.id for agent in agents)]

    def test_the_mails_go_over_one_connection(self, db: Database, mailserver: MailServer) -> None:
        for _ in range(4):
            make_agent(db)
        make_ticket(db, make_customer(db))
        deliver(db, mailserver)
        assert len(mailserver.messages) == 5
        assert len(set(mailserver.peers)) == 1

    def test_statements_do_not_grow_with_the_department(self, db: Database) -> None:
        customer = make_customer(db)
        counts: list[int] = []
        for agents in (2, 8):
            for _ in range(agents - (2 if counts else 0)):
                make_agent(db)
            ticket = make_ticket(db, customer)
            with counting(db) as counter:
                handle_created(db, ticket.id)
            counts.append(len(counter.statements))
        with db.unit_of_work(write=False) as session:
            logged = session.scalars(select(MailLog.purpose).where(MailLog.purpose == "new_ticket")).all()
        assert len(logged) == 2 + 8
        assert counts[0] == counts[1], "\n".join(s[:150] for s in counter.statements)


class TestRenderedOnce:
    def test_each_agent_is_greeted_by_their_own_name(self, db: Database, mailserver: MailServer) -> None:
        name = 'Tom & "Jerry" <b>'
        tricky = make_user(db, role=Role.AGENT, name=name)
        plain = make_agent(db)
        make_ticket(db, make_customer(db))
        deliver(db, mailserver)
        [mail] = mailserver.to(tricky.email)
        text = mail.get_body(preferencelist=("plain",))
        html = mail.get_body(preferencelist=("html",))
        assert text is not None and html is not None
        assert text.get_content().startswith(f"Hello {name},\r\n")
        assert f"<p>Hello {escape(name)},</p>" in html.get_content()
        [other] = mailserver.to(plain.email)
        assert "Tom" not in content(other)
        assert "\x00" not in content(mail) + content(other)


class TestEachMailItsOwnOutcome:
    def test_a_mail_refused_for_good_fails_alone(self, db: Database, mailserver: MailServer) -> None:
        customer = make_customer(db)
        agents = [make_agent(db), make_agent(db)]
        mailserver.refusals = ["554 5.7.1 Rejected"]  # the first mail: the customer's
        make_ticket(db, customer)
        deliver(db)
        statuses = {entry.user_id: (entry.status, entry.attempts) for entry in mail_log(db)}
        assert statuses[customer.id] == (MailStatus.FAILED, 1)
        assert all(statuses[agent.id] == (MailStatus.SENT, 1) for agent in agents)
        assert queued_sends(db) == []
        assert len(set(mailserver.peers)) == 1, "the refusal did not cost the connection"

    def test_a_mail_refused_for_now_is_retried_alone_with_backoff(
        self, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        agent = make_agent(db)
        mailserver.refusals = ["451 4.3.0 Try again later"]
        make_ticket(db, customer)
        started = now()
        deliver(db)
        [first, second] = mail_log(db)
        assert (first.user_id, first.status, first.attempts) == (customer.id, MailStatus.RETRYING, 1)
        assert (second.user_id, second.status) == (agent.id, MailStatus.SENT)
        [retry] = queued_sends(db)
        assert retry.payload == {"mail_log_id": first.id}
        assert retry.run_after >= started + timedelta(seconds=mail_out.backoff_seconds(1))
        with later(2):
            deliver(db, mailserver)
        assert [m.envelope_to for m in mailserver.messages] == [[customer.email]]
        assert mail_log(db)[0].status is MailStatus.SENT

    def test_smtp_down_retries_the_batch_and_delivers_each_mail_once(
        self, db: Database, smtp_down: int
    ) -> None:
        make_agent(db)
        make_agent(db)
        make_ticket(db, make_customer(db))
        deliver(db)
        entries = mail_log(db)
        assert {(e.status, e.attempts) for e in entries} == {(MailStatus.RETRYING, 1)}
        [retry] = queued_sends(db)
        assert retry.payload == {"mail_log_ids": [e.id for e in entries]}
        server, controller = start_server_on(smtp_down)
        try:
            with later(2):
                deliver(db)
            with later(120):
                deliver(db)
        finally:
            controller.stop()
        assert sorted(m.envelope_to[0] for m in server.messages) == sorted(e.recipients for e in entries)
        assert {(e.status, e.attempts) for e in mail_log(db)} == {(MailStatus.SENT, 2)}


class TestBatchRunAgain:
    def test_mails_recorded_as_sent_are_not_sent_again(self, db: Database, mailserver: MailServer) -> None:
        """A worker that died mid-batch recorded what it had sent: the job, run again, sends the
        rest; run once more, nothing."""
        for _ in range(3):
            make_agent(db)
        ticket = make_ticket(db, make_customer(db))
        handle_created(db, ticket.id)
        [job] = queued_sends(db)
        first, *rest = mail_log(db)
        with db.unit_of_work() as session:
            session.execute(update(MailLog).where(MailLog.id == first.id).values(status=MailStatus.SENT))
        mail_out.send(db, job.payload)
        assert sorted(m.envelope_to[0] for m in mailserver.messages) == sorted(e.recipients for e in rest)
        mail_out.send(db, job.payload)
        assert len(mailserver.messages) == len(rest)

    def test_a_mail_claimed_by_a_killed_worker_is_not_sent_twice(
        self, db: Database, mailserver: MailServer
    ) -> None:
        """A worker killed between handing a mail to the server and recording it left the mail
        claimed: the job, run again by another worker, sends the rest and marks that one failed as
        interrupted (maybe delivered), for an admin to send again; never a second copy."""
        for _ in range(3):
            make_agent(db)
        ticket = make_ticket(db, make_customer(db))
        handle_created(db, ticket.id)
        [job] = queued_sends(db)
        first, *rest = mail_log(db)
        with db.unit_of_work() as session:  # what the killed worker committed before sending
            session.execute(update(MailLog).where(MailLog.id == first.id).values(sent_at=now()))
        mail_out.send(db, job.payload)
        assert sorted(m.envelope_to[0] for m in mailserver.messages) == sorted(e.recipients for e in rest)
        entries = {e.id: e for e in mail_log(db)}
        assert entries[first.id].status is MailStatus.FAILED and entries[first.id].sent_at is None
        assert entries[first.id].reason.startswith("Interrupted: ")
        assert {entries[e.id].status for e in rest} == {MailStatus.SENT}
        with db.unit_of_work() as session:  # the admin sends it again: once
            mail_out.resend(session, session.get_one(MailLog, first.id))
        mail_out.send(db, {"mail_log_id": first.id})
        assert len(mailserver.messages) == len(rest) + 1


class TestVisibilityInBatch:
    def test_only_staff_watchers_who_can_read_the_message_hear_of_it(
        self, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        watcher, author, colleague = make_agent(db), make_agent(db), make_agent(db)
        ticket = make_ticket(db, customer)
        for person in (watcher, colleague):
            watch(db, ticket.id, person)
        watch(db, ticket.id, make_customer(db))  # a customer in the watchers: never told as staff
        deliver(db, mailserver)
        make_message(db, author, ticket.id, body="Note one", internal=True)
        deliver(db, mailserver)
        assert sorted(m.envelope_to[0] for m in mailserver.messages) == sorted(
            [watcher.email, colleague.email]
        )
        note = make_message(db, author, ticket.id, body="Note two", internal=True)
        delete_message(db, make_admin(db), note.id)
        deliver(db, mailserver)
        assert mailserver.messages == [], "a message deleted before the job ran is in no mail"
