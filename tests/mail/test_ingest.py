"""Mail in, end to end on the real database and a real SMTP server (issue 5 parts 3-5):
a stored raw mail becomes a ticket or a message, is held, or is refused, and says why."""

from __future__ import annotations

import threading
from email import message_from_bytes
from email.policy import SMTP
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from tests.factories import make_admin, make_agent, make_customer, make_message, make_ticket, set_status
from tests.mailserver import MailServer
from ticketry.attachments.models import Attachment
from ticketry.core.config import get_settings
from ticketry.core.db import Database
from ticketry.history.models import TicketEvent
from ticketry.jobs.worker import Worker
from ticketry.mail.inbound import ingest
from ticketry.mail.inbound import service as mail_service
from ticketry.mail.log.models import MailLog, MailStatus
from ticketry.mail.outbound import ids
from ticketry.messages.models import Message
from ticketry.sitesettings.models import SINGLE_ROW_ID, SiteSettings
from ticketry.tickets.models import Source, Ticket, TicketStatus
from ticketry.users import service as users
from ticketry.users.models import Role, User

from .inbound import SUPPORT, log_entry, mail, mail_settings, make_mailbox, outbound, run_jobs

__all__ = ["mail_settings"]

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


def tickets(db: Database) -> list[Ticket]:
    with db.unit_of_work(write=False) as session:
        return list(session.scalars(select(Ticket).order_by(Ticket.id)))


def messages(db: Database, ticket_id: int) -> list[Message]:
    with db.unit_of_work(write=False) as session:
        return list(
            session.scalars(select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id))
        )


def user_by_email(db: Database, email: str) -> User | None:
    with db.unit_of_work(write=False) as session:
        return session.scalars(select(User).where(User.email == email)).one_or_none()


def our_message_id(ticket_id: int, message_id: int = 0) -> str:
    return ids.message_id(
        get_settings().secret_key, "help.example.com", ticket_id=ticket_id, message_id=message_id
    )


def reply_address(ticket_id: int) -> str:
    return ids.reply_address(get_settings().secret_key, get_settings().mail_from, ticket_id=ticket_id)


class TestNewMail:
    def test_an_unknown_sender_becomes_a_customer_with_a_ticket(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        inbox = make_mailbox(db, department="billing")
        entry = inbox.receive(mail(message_id="<first@customer.example>"))
        assert entry.status is MailStatus.CREATED_TICKET
        [ticket] = tickets(db)
        customer = user_by_email(db, "carla@customer.example")
        assert customer is not None and customer.role is Role.CUSTOMER and customer.name == "Carla Customer"
        assert ticket.customer_id == customer.id and entry.ticket_id == ticket.id
        assert ticket.title == "The printer is on fire"
        assert ticket.source is Source.EMAIL
        assert "the printer on floor 3 is on fire" in ticket.description
        with db.unit_of_work(write=False) as session:
            assert ticket.department_id == users.find_department(session, "billing").id

    def test_the_receipt_answers_the_customers_own_mail(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        inbox = make_mailbox(db)
        inbox.receive(mail(message_id="<first@customer.example>"))
        [receipt] = mail_settings.to("carla@customer.example")
        assert receipt["In-Reply-To"] == "<first@customer.example>"
        assert receipt["Auto-Submitted"] == "auto-replied"
        [ticket] = tickets(db)
        assert ids.ticket_in_message_id(get_settings().secret_key, receipt["Message-ID"]) == (ticket.id, 0)
        assert ids.ticket_in_reply_address(get_settings().secret_key, str(receipt["Reply-To"])) == ticket.id

    def test_files_and_inline_images_arrive_and_remote_images_do_not(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        inbox = make_mailbox(db)
        raw = mail(
            html='<p>See <img src="cid:shot@x"> and <img src="https://tracker.example/pixel.gif"></p>',
            attachments=[("report.txt", "text/plain", b"all the logs\n")],
        )
        # make the PNG an inline part with a Content-ID
        message = message_from_bytes(raw, policy=SMTP)
        html_part = message.get_body(preferencelist=("html",))
        assert html_part is not None
        html_part.add_related(PNG, maintype="image", subtype="png", cid="<shot@x>", filename="shot.png")  # type: ignore[attr-defined]
        inbox.receive(message.as_bytes())
        [ticket] = tickets(db)
        with db.unit_of_work(write=False) as session:
            files = {
                a.filename: a
                for a in session.scalars(select(Attachment).where(Attachment.ticket_id == ticket.id))
            }
        assert set(files) == {"report.txt", "shot.png"}
        assert ticket.mail_html is not None
        assert f"/api/v1/attachments/{files['shot.png'].id}/content?inline=1" in ticket.mail_html
        assert "tracker.example" not in ticket.mail_html

    def test_a_file_of_a_kind_not_accepted_is_named_and_the_mail_still_arrives(
        self, db: Database, mail_settings: MailServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TICKETRY_ATTACHMENT_TYPES", "png,jpeg")
        get_settings.cache_clear()
        inbox = make_mailbox(db)
        entry = inbox.receive(mail(attachments=[("notes.txt", "text/plain", b"plain text\n")]))
        assert entry.status is MailStatus.CREATED_TICKET
        [ticket] = tickets(db)
        assert "Attachments not accepted" in ticket.description and "notes.txt" in ticket.description
        with db.unit_of_work(write=False) as session:
            assert session.scalar(select(func.count()).select_from(Attachment)) == 0


class TestThreading:
    def test_a_reply_to_our_mail_lands_on_its_ticket(self, db: Database, mail_settings: MailServer) -> None:
        inbox = make_mailbox(db)
        inbox.receive(mail())
        [ticket] = tickets(db)
        [receipt] = mail_settings.to("carla@customer.example")
        entry = inbox.receive(
            mail(
                subject="Re: whatever the client made of it",
                body="It is still burning.\n\nOn Mon, Support wrote:\n> We got your mail.",
                in_reply_to=receipt["Message-ID"],
            )
        )
        assert entry.status is MailStatus.APPENDED
        assert "signed Message-ID" in entry.reason
        [message] = messages(db, ticket.id)
        assert message.body.startswith("It is still burning.")
        assert "We got your mail" not in message.body, "the quoted history is stripped for display"
        assert message.mail_text is not None and "We got your mail" in message.mail_text
        assert message.source is Source.EMAIL and not message.is_internal
        assert len(tickets(db)) == 1

    def test_a_reply_that_references_the_customers_first_mail_lands_on_its_ticket(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        inbox = make_mailbox(db)
        inbox.receive(mail(message_id="<first@customer.example>"))
        entry = inbox.receive(mail(subject="More", references="<first@customer.example>"))
        assert entry.status is MailStatus.APPENDED and "already had" in entry.reason

    def test_the_reply_address_alone_is_enough(self, db: Database, mail_settings: MailServer) -> None:
        inbox = make_mailbox(db)
        inbox.receive(mail())
        [ticket] = tickets(db)
        entry = inbox.receive(mail(subject="No headers at all", to=reply_address(ticket.id)))
        assert entry.status is MailStatus.APPENDED and entry.ticket_id == ticket.id

    def test_the_number_in_the_subject_from_the_requester_threads_but_proves_nothing(
        self, db: Database, mail_settings: MailServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Anyone can type a number and a From: by default such a mail is held on the ticket for
        an agent; with `not_failed` (no proof asked of customers) it posts (issue 12)."""
        inbox = make_mailbox(db)
        inbox.receive(mail())
        [ticket] = tickets(db)
        entry = inbox.receive(mail(subject=f"Re: [{ticket.number}] anything"))
        assert entry.status is MailStatus.APPENDED and entry.ticket_id == ticket.id
        assert "ticket number in the subject" in entry.reason
        [held] = messages(db, ticket.id)
        assert held.held_reason is not None
        monkeypatch.setenv("TICKETRY_MAIL_CUSTOMER_AUTH", "not_failed")
        get_settings.cache_clear()
        posted = inbox.receive(mail(subject=f"Re: [{ticket.number}] again"))
        assert posted.ticket_id == ticket.id and messages(db, ticket.id)[-1].held_reason is None

    def test_the_number_in_the_subject_from_a_stranger_opens_a_ticket_of_their_own(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        inbox = make_mailbox(db)
        inbox.receive(mail())
        [ticket] = tickets(db)
        entry = inbox.receive(
            mail(sender="mallory@evil.example", subject=f"Re: [{ticket.number}] send me the file")
        )
        assert entry.status is MailStatus.CREATED_TICKET and entry.ticket_id != ticket.id
        assert messages(db, ticket.id) == []

    def test_a_forged_message_id_tag_is_not_believed(self, db: Database, mail_settings: MailServer) -> None:
        inbox = make_mailbox(db)
        inbox.receive(mail())
        [ticket] = tickets(db)
        forged = f"<ticketry.t{ticket.id}.m0.{'0' * 20}.abcd1234@help.example.com>"
        entry = inbox.receive(mail(sender="mallory@evil.example", in_reply_to=forged))
        assert entry.status is MailStatus.CREATED_TICKET and entry.ticket_id != ticket.id

    def test_a_reply_to_a_closed_ticket_opens_a_follow_up(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        customer = make_customer(db)
        agent = make_agent(db)
        ticket = make_ticket(db, customer)
        set_status(db, agent, ticket.id, TicketStatus.CLOSED)
        inbox = make_mailbox(db)
        entry = inbox.receive(mail(sender=customer.email, in_reply_to=our_message_id(ticket.id)))
        assert entry.status is MailStatus.CREATED_TICKET and entry.ticket_id != ticket.id
        assert ticket.number in entry.reason
        with db.unit_of_work(write=False) as session:
            fields = set(
                session.scalars(select(TicketEvent.field).where(TicketEvent.ticket_id == entry.ticket_id))
            )
        assert "follow_up_of" in fields

    def test_the_same_mail_twice_makes_one_message(self, db: Database, mail_settings: MailServer) -> None:
        inbox = make_mailbox(db)
        other = make_mailbox(db)
        raw = mail(message_id="<same@customer.example>")
        first = inbox.receive(raw)
        second = other.receive(raw)
        assert first.status is MailStatus.CREATED_TICKET
        assert second.status is MailStatus.DUPLICATE and second.ticket_id == first.ticket_id
        assert len(tickets(db)) == 1

    def test_an_agents_mail_reply_is_kept_as_an_internal_note(
        self, db: Database, mail_settings: MailServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Staff act by mail only with proof (issue 12): their own reply address, and a trusted
        server's passing result for their domain."""
        monkeypatch.setenv("TICKETRY_MAIL_TRUSTED_AUTHSERV_IDS", "mx.help.example.com")
        get_settings.cache_clear()
        customer = make_customer(db)
        agent = make_agent(db)
        ticket = make_ticket(db, customer)
        run_jobs(db)
        mail_settings.messages.clear()
        inbox = make_mailbox(db)
        own = ids.reply_address(
            get_settings().secret_key, get_settings().mail_from, ticket_id=ticket.id, user_id=agent.id
        )
        entry = inbox.receive(
            mail(
                sender=agent.email,
                to=own,
                in_reply_to=our_message_id(ticket.id),
                headers={
                    "Authentication-Results": "mx.help.example.com; dmarc=pass header.from=example.test"
                },
            )
        )
        assert entry.status is MailStatus.APPENDED
        [note] = messages(db, ticket.id)
        assert note.is_internal and note.author_id == agent.id
        assert mail_settings.to(customer.email) == [], "a note never reaches the customer"

    def test_someone_else_replying_through_the_signed_address_is_held_for_staff(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        customer = make_customer(db)
        ticket = make_ticket(db, customer)
        inbox = make_mailbox(db)
        entry = inbox.receive(mail(sender="colleague@customer.example", to=reply_address(ticket.id)))
        assert entry.status is MailStatus.APPENDED and "not a participant" in entry.reason
        [message] = messages(db, ticket.id)
        colleague = user_by_email(db, "colleague@customer.example")
        assert colleague is not None and message.author_id == colleague.id
        assert message.is_internal and message.held_reason is not None

    def test_a_customer_reply_reopens_an_answered_ticket(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        customer = make_customer(db)
        agent = make_agent(db)
        ticket = make_ticket(db, customer)
        make_message(db, agent, ticket.id, body="Try turning it off.")
        inbox = make_mailbox(db)
        inbox.receive(mail(sender=customer.email, in_reply_to=our_message_id(ticket.id)))
        [current] = [t for t in tickets(db) if t.id == ticket.id]
        assert current.status is TicketStatus.OPEN


class TestClassification:
    def test_an_out_of_office_reply_creates_nothing_and_sends_nothing(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        customer = make_customer(db)
        ticket = make_ticket(db, customer)
        run_jobs(db)
        mail_settings.messages.clear()
        inbox = make_mailbox(db)
        entry = inbox.receive(
            mail(
                sender=customer.email,
                subject="Automatic reply: I am away",
                in_reply_to=our_message_id(ticket.id),
                headers={"Auto-Submitted": "auto-replied"},
            )
        )
        assert entry.status is MailStatus.AUTO_REPLY and "Auto-Submitted" in entry.reason
        assert messages(db, ticket.id) == []
        assert mail_settings.messages == []

    def test_our_own_mail_coming_back_is_a_loop(self, db: Database, mail_settings: MailServer) -> None:
        inbox = make_mailbox(db)
        entry = inbox.receive(mail(sender=f"Support <{SUPPORT}>"))
        assert entry.status is MailStatus.LOOP
        assert tickets(db) == []

    def test_spam_is_held_and_an_admin_can_release_it(self, db: Database, mail_settings: MailServer) -> None:
        inbox = make_mailbox(db)
        entry = inbox.receive(mail(headers={"X-Spam-Flag": "YES"}))
        assert entry.status is MailStatus.SPAM_HELD and tickets(db) == []
        admin = make_admin(db)
        with db.unit_of_work() as session:
            mail_service.reprocess(session, admin.actor, entry.id)
        run_jobs(db)
        assert log_entry(db, entry.id).status is MailStatus.CREATED_TICKET
        assert len(tickets(db)) == 1

    def test_a_spam_score_at_the_threshold_is_held_unless_the_sender_is_allowed(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        with db.unit_of_work() as session:
            session.add(
                SiteSettings(id=SINGLE_ROW_ID, mail_spam_score=5.0, mail_allow_senders="@trusted.example")
            )
        inbox = make_mailbox(db)
        held = inbox.receive(mail(headers={"X-Spam-Score": "5.0"}))
        allowed = inbox.receive(mail(sender="boss@trusted.example", headers={"X-Spam-Score": "9.9"}))
        low = inbox.receive(mail(sender="other@customer.example", headers={"X-Spam-Score": "4.9"}))
        assert held.status is MailStatus.SPAM_HELD
        assert allowed.status is MailStatus.CREATED_TICKET
        assert low.status is MailStatus.CREATED_TICKET

    def test_a_denied_sender_is_refused(self, db: Database, mail_settings: MailServer) -> None:
        with db.unit_of_work() as session:
            session.add(SiteSettings(id=SINGLE_ROW_ID, mail_deny_senders="spammer.example\nbad@x.example"))
        inbox = make_mailbox(db)
        entry = inbox.receive(mail(sender="someone@sub.spammer.example"))
        assert entry.status is MailStatus.REJECTED and "deny list" in entry.reason
        assert tickets(db) == [] and user_by_email(db, "someone@sub.spammer.example") is None

    def test_a_sender_writing_more_than_the_hourly_limit_is_held_as_a_loop(
        self, db: Database, mail_settings: MailServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TICKETRY_MAIL_MAX_PER_SENDER_PER_HOUR", "3")
        get_settings.cache_clear()
        inbox = make_mailbox(db)
        statuses = [inbox.receive(mail(subject=f"Mail {n}")).status for n in range(5)]
        assert statuses == [MailStatus.CREATED_TICKET] * 3 + [MailStatus.LOOP] * 2


class TestBounces:
    def test_a_bounce_marks_the_address_and_notes_it_on_the_ticket(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        customer = make_customer(db)
        ticket = make_ticket(db, customer)
        run_jobs(db)
        [receipt] = mail_settings.to(customer.email)
        bounce = dsn(customer.email, receipt["Message-ID"])
        inbox = make_mailbox(db)
        entry = inbox.receive(bounce)
        assert entry.status is MailStatus.BOUNCE and entry.ticket_id == ticket.id
        user = user_by_email(db, customer.email)
        assert user is not None and user.email_undeliverable_at is not None
        assert "5.1.1" in user.email_undeliverable_reason
        with db.unit_of_work(write=False) as session:
            event = session.scalars(
                select(TicketEvent).where(
                    TicketEvent.ticket_id == ticket.id, TicketEvent.field == "mail_bounced"
                )
            ).one()
            assert event.is_internal
        assert [m.status for m in outbound(db) if m.user_id == customer.id] == [MailStatus.FAILED]
        assert messages(db, ticket.id) == []
        # no more mail to the dead address
        mail_settings.messages.clear()
        agent = make_agent(db)
        make_message(db, agent, ticket.id, body="Here is the answer.")
        run_jobs(db)
        assert mail_settings.to(customer.email) == []


def dsn(recipient: str, original_message_id: str) -> bytes:
    """A Postfix-style delivery status notification (RFC 3464)."""
    boundary = "=_bounce_boundary"
    return (
        f"From: MAILER-DAEMON@mx.customer.example (Mail Delivery System)\r\n"
        f"To: {SUPPORT}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\n"
        f"Auto-Submitted: auto-replied\r\n"
        f"Message-ID: <bounce1@mx.customer.example>\r\n"
        f"MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        f"\r\n--{boundary}\r\n"
        f"Content-Type: text/plain\r\n\r\n"
        f"I'm sorry to have to inform you that your message could not be delivered.\r\n"
        f"\r\n--{boundary}\r\n"
        f"Content-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.customer.example\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\n"
        f"Action: failed\r\n"
        f"Status: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{recipient}>: Recipient address rejected: User unknown\r\n"
        f"\r\n--{boundary}\r\n"
        f"Content-Type: text/rfc822-headers\r\n\r\n"
        f"From: {SUPPORT}\r\n"
        f"To: {recipient}\r\n"
        f"Subject: [TICK] received\r\n"
        f"Message-ID: {original_message_id}\r\n"
        f"\r\n--{boundary}--\r\n"
    ).encode()


class TestDurability:
    def test_with_smtp_down_the_ticket_is_made_and_the_receipt_waits(
        self, db: Database, smtp_down: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
    ) -> None:
        monkeypatch.setenv("TICKETRY_STORAGE_URL", str(tmp_path))
        monkeypatch.setenv("TICKETRY_MAIL_FROM", f"Support <{SUPPORT}>")
        get_settings.cache_clear()
        inbox = make_mailbox(db)
        entry = inbox.receive(mail())
        assert entry.status is MailStatus.CREATED_TICKET
        [receipt] = outbound(db)
        assert receipt.status is MailStatus.RETRYING

    def test_ingesting_twice_makes_one_ticket(self, db: Database, mail_settings: MailServer) -> None:
        inbox = make_mailbox(db)
        entry = inbox.receive(mail(), run=False)
        ingest.ingest(db, {"mail_log_id": entry.id})
        ingest.ingest(db, {"mail_log_id": entry.id})
        run_jobs(db)
        assert len(tickets(db)) == 1
        assert log_entry(db, entry.id).status is MailStatus.CREATED_TICKET

    def test_a_mail_waits_in_the_log_until_a_worker_takes_it(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        inbox = make_mailbox(db)
        entry = inbox.receive(mail(), run=False)
        assert entry.status is MailStatus.RECEIVED and entry.raw is not None
        assert tickets(db) == []
        Worker(db).run_until_idle()
        assert log_entry(db, entry.id).status is MailStatus.CREATED_TICKET

    def test_a_disabled_account_is_refused(self, db: Database, mail_settings: MailServer) -> None:
        customer = make_customer(db)
        with db.unit_of_work() as session:
            session.execute(update(User).where(User.id == customer.id).values(is_active=False))
        entry = make_mailbox(db).receive(mail(sender=customer.email))
        assert entry.status is MailStatus.REJECTED and "disabled" in entry.reason


def test_every_outcome_keeps_the_raw_mail(db: Database, mail_settings: MailServer) -> None:
    inbox = make_mailbox(db)
    for raw in (mail(), mail(headers={"Auto-Submitted": "auto-generated"})):
        entry = inbox.receive(raw)
        with db.unit_of_work(write=False) as session:
            assert session.get(MailLog, entry.id).raw == raw  # type: ignore[union-attr]


class TestConcurrentWorkers:
    def test_a_customer_created_meanwhile_by_another_worker_loses_no_mail(
        self, db: Database, mail_settings: MailServer
    ) -> None:
        """Another worker inserts the same new customer while this one ingests: the unique
        e-mail refuses one insert. That is no duplicate mail: the job fails, retries, and the
        mail becomes a ticket of that customer."""
        inbox = make_mailbox(db)
        entry = inbox.receive(mail(sender="Nova New <nova@customer.example>"), run=False)
        errors: list[BaseException] = []

        def other_worker() -> None:
            try:
                ingest.ingest(db, {"mail_log_id": entry.id})
            except BaseException as error:
                errors.append(error)

        with db.unit_of_work() as session:
            users.create_user(session, email="nova@customer.example", name="Nova", role=Role.CUSTOMER)
            session.flush()
            thread = threading.Thread(target=other_worker)
            thread.start()
            thread.join(timeout=1.0)  # it waits on our uncommitted customer (PostgreSQL, SQLite alike)
        thread.join(timeout=30)
        assert log_entry(db, entry.id).status in (MailStatus.RECEIVED, MailStatus.CREATED_TICKET)
        assert all(not isinstance(error, AssertionError) for error in errors)
        run_jobs(db)
        done = log_entry(db, entry.id)
        assert done.status is MailStatus.CREATED_TICKET
        [ticket] = tickets(db)
        assert ticket.customer_id == user_by_email(db, "nova@customer.example").id  # type: ignore[union-attr]
