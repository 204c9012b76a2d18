"""What ingesting a mail costs the database (issue 14 A.10, ≥ 100 mails/s per worker): a plain
new mail from a customer we know takes a fixed number of statements. On PostgreSQL a mail without
files is read and written in one transaction; SQLite reads it first (its one writer must not
wait on a parse), and counts its BEGINs as statements."""

from __future__ import annotations

from tests.factories import make_customer
from tests.web.test_query_counts import counting
from ticketry.core.db import Database
from ticketry.jobs.worker import Worker

from .inbound import Inbox, MailServer, mail, mail_settings, make_mailbox, run_jobs

__all__ = ["mail_settings"]  # a fixture

# The claim; the log entry (locked on PostgreSQL); the site settings and the mailboxes (once per
# batch: a batch of one here); the sender's hourly count and an earlier copy, in one; the sender;
# the ticket number; the department; the ticket, its history and its job; the entry's outcome;
# the live event (PostgreSQL); the batch's task done. SQLite: four BEGINs besides.
NEW_TICKET = {"postgresql": 14, "sqlite": 18}


def ingested(db: Database, inbox: Inbox, raw: bytes) -> list[str]:
    inbox.receive(raw, run=False)
    with counting(db) as counter:
        assert Worker(db, batch_size=1).run_once() == 1
    run_jobs(db)  # its notifications
    return counter.statements


def test_a_new_mail_takes_a_fixed_number_of_statements(db: Database, mail_settings: MailServer) -> None:
    inbox = make_mailbox(db)
    customer = make_customer(db)
    ingested(db, inbox, mail(sender=customer.email, subject="First"))  # the year's first number
    for n in range(2):
        statements = ingested(db, inbox, mail(sender=customer.email, subject=f"Again {n}"))
        assert len(statements) == NEW_TICKET[db.dialect], "\n".join(statements)
