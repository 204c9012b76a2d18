"""The mailbox use cases where the API's defaults do not reach them (issue 5 part 1): a mailbox
made from only some fields is checked against the values it will have once stored."""

from __future__ import annotations

import pytest

from tests.factories import make_admin
from tests.mail_admin import department_id
from ticketry.core.db import Database
from ticketry.mail.inbound import service as mail_service
from ticketry.mail.inbound.errors import InvalidMailbox
from ticketry.mail.inbound.models import ProcessedAction


class TestCreateMailbox:
    def test_moving_into_the_default_folder_is_refused(self, db: Database) -> None:
        """The folder polled defaults to INBOX; moving processed mail there would ingest it again."""
        admin = make_admin(db)
        fields = mail_service.MailboxFields(
            name="Support",
            address="support@help.example.com",
            department_id=department_id(db),
            imap_host="imap.example.com",
            imap_username="support",
            processed_action=ProcessedAction.MOVE,
            processed_folder="INBOX",
        )
        with pytest.raises(InvalidMailbox), db.unit_of_work() as session:
            mail_service.create_mailbox(session, admin.actor, fields)

    def test_omitted_fields_get_the_defaults(self, db: Database) -> None:
        admin = make_admin(db)
        fields = mail_service.MailboxFields(
            name="Pushed", address="push@help.example.com", department_id=department_id(db)
        )
        with db.unit_of_work() as session:
            mailbox = mail_service.create_mailbox(session, admin.actor, fields)
            assert (mailbox.imap_host, mailbox.imap_folder, mailbox.processed_action) == (
                "",
                "INBOX",
                ProcessedAction.MARK_SEEN,
            )
            assert (mailbox.is_active, mailbox.poll_interval_seconds, mailbox.imap_password_sealed) == (
                True,
                60,
                "",
            )


class TestPassword:
    def test_spaces_are_part_of_the_password(self, db: Database) -> None:
        admin = make_admin(db)
        fields = mail_service.MailboxFields(
            name="Support",
            address="spaces@help.example.com",
            department_id=department_id(db),
            imap_host="imap.example.com",
            imap_username="support",
            imap_password="  two words  ",
        )
        with db.unit_of_work() as session:
            mailbox = mail_service.create_mailbox(session, admin.actor, fields)
            assert mail_service.imap_account(mailbox).password == "  two words  "

    def test_a_line_break_in_the_password_is_refused(self, db: Database) -> None:
        admin = make_admin(db)
        fields = mail_service.MailboxFields(
            name="Support",
            address="crlf@help.example.com",
            department_id=department_id(db),
            imap_host="imap.example.com",
            imap_username="support",
            imap_password="secret\r\na002 DELETE INBOX",
        )
        with pytest.raises(InvalidMailbox), db.unit_of_work() as session:
            mail_service.create_mailbox(session, admin.actor, fields)
