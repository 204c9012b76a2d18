"""The admin's mail pages (issue 5): mailboxes (list, form, connection test, poll, webhook
secret, delete), the mail log and one mail, and the incoming-mail settings. Plain forms with
CSRF that work without JavaScript; agents and customers are refused like on every admin page."""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import Persona, make_admin, make_agent, make_customer, make_ticket, make_user
from tests.mail_admin import (
    IMAP_PASSWORD,
    Browser,
    department_id,
    flash,
    log_mail,
    mail_entry,
    mailbox_row,
    make_mailbox,
    queued_jobs,
    set_mailbox,
)
from tests.servers import closed_port

from ticketry.core.clock import now
from ticketry.core.db import Database
from ticketry.mail.inbound.models import Mailbox, ProcessedAction
from ticketry.mail.log.models import Direction, MailStatus
from ticketry.mailparse.imap import ImapSecurity
from ticketry.sitesettings import service as site_settings
from ticketry.users.models import Role

PAGES = [
    "/admin/mailboxes",
    "/admin/mailboxes/new",
    "/admin/mailboxes/{mailbox}",
    "/admin/mail",
    "/admin/mail/{mail}",
]
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)


def form(db: Database, **changes: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "name": "Support",
        "address": "support@help.example.com",
        "department": department_id(db),
        "is_active": "true",
        "imap_host": "imap.example.com",
        "imap_port": "993",
        "imap_security": "tls",
        "imap_username": "support",
        "imap_password": IMAP_PASSWORD,
        "imap_folder": "INBOX",
        "processed_action": "mark_seen",
        "processed_folder": "Processed",
        "poll_interval_seconds": "60",
    }
    fields.update(changes)
    return {name: value for name, value in fields.items() if value is not None}


def only_mailbox(db: Database) -> Mailbox:
    with db.unit_of_work(write=False) as session:
        [mailbox] = session.scalars(select(Mailbox)).all()
        return mailbox


class TestAccess:
    @pytest.mark.parametrize("role", [Role.AGENT, Role.CUSTOMER])
    def test_every_page_is_forbidden_to_agents_and_customers(
        self, client: TestClient, db: Database, role: Role
    ) -> None:
        mailbox = make_mailbox(db, make_admin(db), name="Hiddenbox")
        mail = log_mail(db, subject="Hiddensubject")
        Browser(client, db, make_user(db, role=role))
        for path in PAGES:
            response = client.get(path.format(mailbox=mailbox, mail=mail), follow_redirects=False)
            assert response.status_code == 403, path
            assert "Not allowed" in response.text
            assert "Hiddenbox" not in response.text and "Hiddensubject" not in response.text

    @pytest.mark.parametrize("maker", [make_agent, make_customer])
    def test_forms_posted_by_others_change_nothing(
        self, client: TestClient, db: Database, maker: Callable[[Database], Persona]
    ) -> None:
        admin = make_admin(db)
        mailbox = make_mailbox(db, admin, name="Kept")
        mail = log_mail(db, status=MailStatus.SPAM_HELD)
        browser = Browser(client, db, maker(db))
        for path in (
            "/admin/mailboxes",
            f"/admin/mailboxes/{mailbox}",
            f"/admin/mailboxes/{mailbox}/poll",
            f"/admin/mailboxes/{mailbox}/test",
            f"/admin/mailboxes/{mailbox}/webhook-secret",
            f"/admin/mailboxes/{mailbox}/webhook-secret/delete",
            f"/admin/mailboxes/{mailbox}/delete",
            f"/admin/mail/{mail}/reprocess",
        ):
            response = browser.submit(
                path, form(db, name="Taken over", address="evil@help.example.com"), back="/"
            )
            assert response.status_code == 303, path
            assert "whsec_" not in response.text
            page = browser.client.get(response.headers["location"])
            assert (
                flash(page.text)
                == "error: You are not allowed to manage mailboxes and mail. Ask an admin if you need to."
            ), path
        row = only_mailbox(db)
        assert (row.id, row.name, row.webhook_secret_hash) == (mailbox, "Kept", None)
        entry = mail_entry(db, mail)
        assert entry is not None
        assert entry.status is MailStatus.SPAM_HELD

    def test_signed_out_visitors_are_sent_to_sign_in(self, client: TestClient) -> None:
        response = client.get("/admin/mail", follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/login?next=/admin/mail")

    def test_a_form_without_the_csrf_token_is_refused(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        mailbox_id = make_mailbox(db, admin, name="Kept")
        browser = Browser(client, db, admin)
        for path in (
            "/admin/mailboxes",
            f"/admin/mailboxes/{mailbox_id}",
            f"/admin/mailboxes/{mailbox_id}/test",
        ):
            response = browser.client.post(path, data=form(db, name="Forged"), follow_redirects=False)
            assert response.status_code == 303, path
            assert "CSRF" in flash(browser.client.get(response.headers["location"]).text), path
        assert only_mailbox(db).name == "Kept"

    def test_admin_pages_link_the_mail_pages_and_have_no_inline_code(
        self, client: TestClient, db: Database
    ) -> None:
        admin = make_admin(db)
        mailbox = make_mailbox(db, admin)
        mail = log_mail(db)
        browser = Browser(client, db, admin)
        for path in PAGES:
            page = browser.get(path.format(mailbox=mailbox, mail=mail))
            assert '<a href="/admin/mailboxes"' in page and '<a href="/admin/mail"' in page
            assert 'aria-label="Administration"' in page and '<main id="main"' in page
            assert not INLINE_SCRIPT.search(page), path
            assert " style=" not in page and "<style" not in page, path
            assert " onclick=" not in page.lower(), path


class TestMailboxList:
    def test_the_list_shows_each_mailbox_and_its_last_error(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        failing = make_mailbox(db, admin, name="Sales", address="sales@help.example.com")
        make_mailbox(db, admin, name="Pushed", address="push@help.example.com", imap_host="")
        set_mailbox(
            db,
            failing,
            last_error="The server refused the user name or password.",
            last_polled_at=now() - timedelta(minutes=5),
        )

        page = Browser(client, db, admin).get("/admin/mailboxes")

        assert "sales@help.example.com" in page and "push@help.example.com" in page
        assert "imap.example.com:993" in page and "TLS" in page and "Technical" in page
        assert "Webhook only" in page
        assert '<span class="upload-error">The server refused the user name or password.</span>' in page
        assert "5m ago" in page
        assert IMAP_PASSWORD not in page

    def test_an_empty_list_invites_to_add_one(self, client: TestClient, db: Database) -> None:
        page = Browser(client, db, make_admin(db)).get("/admin/mailboxes")
        assert "No mailboxes yet" in page and 'href="/admin/mailboxes/new"' in page


class TestMailboxForm:
    def test_the_new_form_has_labelled_fields_and_explains_plain_text(
        self, client: TestClient, db: Database
    ) -> None:
        page = Browser(client, db, make_admin(db)).get("/admin/mailboxes/new")
        labels = re.findall(r"<label\b.*?</label>", page, re.S)
        controls = ["name", "address", "department", "is_active", "imap_host", "imap_port", "imap_security"]
        controls += ["imap_username", "imap_password", "imap_folder", "processed_action", "processed_folder"]
        for name in [*controls, "poll_interval_seconds"]:
            assert any(f'name="{name}"' in label for label in labels), name
        assert 'name="csrf_token"' in page
        assert "sends the password in clear text" in page and "same machine" in page
        assert 'value="move"' in page and 'value="mark_seen"' in page

    def test_admin_creates_a_mailbox_through_the_form(self, client: TestClient, db: Database) -> None:
        browser = Browser(client, db, make_admin(db))

        page = browser.post(
            "/admin/mailboxes",
            form(
                db,
                imap_security="starttls",
                imap_port="143",
                processed_action="move",
                processed_folder="Done",
            ),
            back="/admin/mailboxes/new",
        )

        assert flash(page) == "success: Mailbox Support (support@help.example.com) was created."
        mailbox = only_mailbox(db)
        assert (mailbox.imap_security, mailbox.imap_port) == (ImapSecurity.STARTTLS, 143)
        assert (mailbox.processed_action, mailbox.processed_folder) == (ProcessedAction.MOVE, "Done")
        assert mailbox.imap_password_sealed and mailbox.is_active
        assert IMAP_PASSWORD not in page and mailbox.imap_password_sealed not in page
        assert 'name="imap_password" maxlength="1000" value=""' in page
        assert "Leave empty to keep the current password." in page

    def test_saving_with_an_empty_password_keeps_it(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        mailbox_id = make_mailbox(db, admin)
        before = mailbox_row(db, mailbox_id)
        assert before is not None
        browser = Browser(client, db, admin)

        page = browser.post(
            f"/admin/mailboxes/{mailbox_id}",
            form(db, name="Help desk", imap_password="", is_active=None),
            back=f"/admin/mailboxes/{mailbox_id}",
        )

        assert flash(page) == "success: Mailbox Help desk was saved."
        after = mailbox_row(db, mailbox_id)
        assert after is not None
        assert (after.name, after.is_active) == ("Help desk", False)
        assert after.imap_password_sealed == before.imap_password_sealed

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"processed_action": "move", "processed_folder": "INBOX"}, "another folder than the one polled"),
            ({"imap_port": "0"}, "The port must be between 1 and 65535."),
            ({"address": "not-an-address"}, "Not a valid e-mail address."),
            ({"imap_username": "a\tb"}, "without line breaks or control characters"),
        ],
    )
    def test_a_refused_form_comes_back_with_the_reason(
        self, client: TestClient, db: Database, changes: dict[str, str], message: str
    ) -> None:
        browser = Browser(client, db, make_admin(db))
        page = browser.post("/admin/mailboxes", form(db, **changes), back="/admin/mailboxes/new")
        assert flash(page).startswith("error: ") and message in flash(page)
        assert "Add a mailbox" in page

    def test_delete(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        mailbox_id = make_mailbox(db, admin)
        browser = Browser(client, db, admin)
        assert 'data-confirm="Delete the mailbox' in browser.get(f"/admin/mailboxes/{mailbox_id}")

        page = browser.post(f"/admin/mailboxes/{mailbox_id}/delete")

        assert flash(page).startswith("success: The mailbox was deleted")
        assert mailbox_row(db, mailbox_id) is None


class TestMailboxActions:
    def test_connection_test_against_a_closed_port_shows_the_error(
        self, client: TestClient, db: Database
    ) -> None:
        admin = make_admin(db)
        port = closed_port()
        mailbox_id = make_mailbox(db, admin, imap_host="127.0.0.1", imap_port=port)

        page = Browser(client, db, admin).post(
            f"/admin/mailboxes/{mailbox_id}/test", back=f"/admin/mailboxes/{mailbox_id}"
        )

        assert (
            flash(page)
            == f"error: Connection test: Could not connect to 127.0.0.1:{port}: connection refused"
        )

    def test_connection_test_shows_what_the_server_said(
        self, client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from ticketry.mailparse import imap

        monkeypatch.setattr(imap, "probe", lambda account: "Connected; 2 messages in INBOX.")
        admin = make_admin(db)
        mailbox_id = make_mailbox(db, admin)
        page = Browser(client, db, admin).post(f"/admin/mailboxes/{mailbox_id}/test")
        assert flash(page) == "success: Connection test: Connected; 2 messages in INBOX."

    def test_poll_now(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        mailbox_id = make_mailbox(db, admin, name="Sales")
        set_mailbox(db, mailbox_id, next_poll_at=now() + timedelta(hours=1))

        page = Browser(client, db, admin).post(f"/admin/mailboxes/{mailbox_id}/poll")

        assert flash(page) == "success: Sales will be polled within a few seconds."
        row = mailbox_row(db, mailbox_id)
        assert row is not None
        assert row.next_poll_at <= now()

    def test_the_webhook_secret_is_shown_once_with_the_url_and_an_example(
        self, client: TestClient, db: Database
    ) -> None:
        admin = make_admin(db)
        mailbox_id = make_mailbox(db, admin)
        browser = Browser(client, db, admin)

        response = browser.submit(f"/admin/mailboxes/{mailbox_id}/webhook-secret")

        assert response.status_code == 200, response.text[:500]
        assert response.headers["cache-control"] == "no-store"
        match = re.search(r'<code id="webhook-secret">(whsec_[\w-]+)</code>', response.text)
        assert match
        secret = match.group(1)
        assert "http://127.0.0.1:8000/api/v1/mail/inbound" in response.text
        assert f"Authorization: Bearer {secret}" in html.unescape(response.text)
        assert 'hx-history="false"' in response.text
        row = mailbox_row(db, mailbox_id)
        assert row is not None
        assert row.webhook_secret_hash == hashlib.sha256(secret.encode()).hexdigest()
        again = browser.get(f"/admin/mailboxes/{mailbox_id}")
        assert secret not in again and "Make a new secret" in again and "Turn off webhook" in again

        page = browser.post(f"/admin/mailboxes/{mailbox_id}/webhook-secret/delete")

        assert flash(page) == "success: The webhook is off: its secret no longer works."
        row = mailbox_row(db, mailbox_id)
        assert row is not None
        assert row.webhook_secret_hash is None
        assert "Create secret" in page


class TestMailLog:
    def test_the_log_shows_each_mail_with_its_outcome(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        ticket = make_ticket(db, make_customer(db))
        log_mail(db, status=MailStatus.CREATED_TICKET, ticket_id=ticket.id, subject="Printer <b>on fire</b>")
        log_mail(db, status=MailStatus.SPAM_HELD, reason="X-Spam-Flag: YES.", subject="Cheap pills")

        page = Browser(client, db, admin).get("/admin/mail")

        assert f'<a href="/desk/tickets/{ticket.id}">{ticket.number}</a>' in page
        assert '<span class="badge status-resolved">Created ticket</span>' in page
        assert '<span class="badge status-on_hold">Spam held</span>' in page
        assert "X-Spam-Flag: YES." in page
        assert "Printer &lt;b&gt;on fire&lt;/b&gt;" in page and "<b>on fire</b>" not in page
        assert "2 mails" in page

    def test_filters_and_search(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        mailbox_id = make_mailbox(db, admin, name="Sales")
        log_mail(db, status=MailStatus.SPAM_HELD, subject="Held one", mailbox_id=mailbox_id)
        log_mail(db, subject="Ticket one", sender="dora@explorer.example")
        log_mail(
            db,
            direction=Direction.OUTBOUND,
            status=MailStatus.SENT,
            subject="Reply one",
            purpose="staff_reply",
        )
        browser = Browser(client, db, admin)

        held = browser.get("/admin/mail?direction=&status=spam_held&mailbox=&q=")
        outbound = browser.get("/admin/mail?direction=outbound")
        by_mailbox = browser.get(f"/admin/mail?mailbox={mailbox_id}")
        searched = browser.get("/admin/mail?q=explorer")

        assert (
            "Held one" in held and "Ticket one" not in held and '<option value="spam_held" selected>' in held
        )
        assert "Reply one" in outbound and "Held one" not in outbound
        assert "Held one" in by_mailbox and "Reply one" not in by_mailbox
        assert "Ticket one" in searched and "Held one" not in searched and 'value="explorer"' in searched

    def test_pagination(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        for n in range(51):
            log_mail(db, subject=f"Numbered {n:02d}")
        browser = Browser(client, db, admin)

        first = browser.get("/admin/mail?status=created_ticket")
        second = browser.get("/admin/mail?status=created_ticket&page=2")

        assert "Numbered 50" in first and "Numbered 01" in first and "Numbered 00" not in first
        assert "Page 1 of 2" in first and 'href="?status=created_ticket&amp;page=2"' in first
        assert "Numbered 00" in second and "Numbered 01" not in second


class TestMailEntry:
    def test_a_held_mail_shows_everything_and_can_be_processed_again(
        self, client: TestClient, db: Database
    ) -> None:
        admin = make_admin(db)
        mailbox_id = make_mailbox(db, admin, name="Sales")
        entry_id = log_mail(
            db,
            status=MailStatus.SPAM_HELD,
            reason="X-Spam-Flag: YES.",
            mailbox_id=mailbox_id,
            message_id_header="<abc@customer.example>",
        )
        browser = Browser(client, db, admin)

        page = browser.get(f"/admin/mail/{entry_id}")

        assert "X-Spam-Flag: YES." in page and "&lt;abc@customer.example&gt;" in page and "Sales" in page
        assert f'href="/api/v1/mail/log/{entry_id}/raw"' in page and "Download .eml" in page
        assert f'action="/admin/mail/{entry_id}/reprocess"' in page

        done = browser.post(f"/admin/mail/{entry_id}/reprocess")

        assert flash(done) == "success: The mail was queued to be processed again."
        entry = mail_entry(db, entry_id)
        assert entry is not None
        assert entry.status is MailStatus.RECEIVED
        assert queued_jobs(db, "mail.ingest") == [{"mail_log_id": entry_id, "release": True, "vouch": False}]

    def test_a_mail_that_became_a_ticket_is_not_processed_again(
        self, client: TestClient, db: Database
    ) -> None:
        admin = make_admin(db)
        entry_id = log_mail(db, status=MailStatus.CREATED_TICKET)
        browser = Browser(client, db, admin)
        assert "Process again" not in browser.get(f"/admin/mail/{entry_id}")
        page = browser.post(f"/admin/mail/{entry_id}/reprocess", back=f"/admin/mail/{entry_id}")
        assert flash(page).startswith("error: Only mail that was held, refused or failed")

    def test_mail_without_content_has_no_download(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        entry_id = log_mail(
            db, direction=Direction.OUTBOUND, status=MailStatus.SENT, purpose="password_reset", raw=None
        )
        page = Browser(client, db, admin).get(f"/admin/mail/{entry_id}")
        assert "Download .eml" not in page and "not kept" in page

    def test_an_unknown_mail_is_404(self, client: TestClient, db: Database) -> None:
        Browser(client, db, make_admin(db)).get("/admin/mail/99999", status=404)


class TestIncomingMailSettings:
    def test_the_settings_form_sets_and_clears_the_lists_and_the_score(
        self, client: TestClient, db: Database
    ) -> None:
        admin = make_admin(db)
        browser = Browser(client, db, admin)
        page = browser.get("/admin/settings")
        assert (
            'name="mail_deny_senders"' in page
            and 'name="mail_allow_senders"' in page
            and 'name="mail_spam_score"' in page
        )

        saved = browser.post(
            "/admin/settings",
            {
                "ticket_prefix": "TICK",
                "allow_signup": "true",
                "attachment_retention_days": "30",
                "incoming_mail": "true",
                "mail_deny_senders": "Spammer@Example.com\nbad.example",
                "mail_allow_senders": "@partner.example",
                "mail_spam_score": "5.5",
            },
        )

        assert flash(saved).startswith("success: Settings saved")
        assert "spammer@example.com\nbad.example</textarea>" in saved and 'value="5.5"' in saved
        with db.unit_of_work(write=False) as session:
            current = site_settings.current(session)
        assert (current.mail_deny_senders, current.mail_allow_senders, current.mail_spam_score) == (
            "spammer@example.com\nbad.example",
            "@partner.example",
            5.5,
        )

        browser.post(
            "/admin/settings",
            {
                "ticket_prefix": "TICK",
                "attachment_retention_days": "30",
                "incoming_mail": "true",
                "mail_deny_senders": "",
                "mail_allow_senders": "",
                "mail_spam_score": "",
            },
        )
        with db.unit_of_work(write=False) as session:
            cleared = site_settings.current(session)
        assert (cleared.mail_deny_senders, cleared.mail_allow_senders, cleared.mail_spam_score) == (
            "",
            "",
            None,
        )

    def test_a_form_without_the_mail_fields_keeps_them(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        with db.unit_of_work() as session:
            site_settings.update(session, admin.actor, mail_deny_senders="bad.example", mail_spam_score=7.0)
        Browser(client, db, admin).post(
            "/admin/settings", {"ticket_prefix": "HELP", "attachment_retention_days": "30"}
        )
        with db.unit_of_work(write=False) as session:
            current = site_settings.current(session)
        assert (current.ticket_prefix, current.mail_deny_senders, current.mail_spam_score) == (
            "HELP",
            "bad.example",
            7.0,
        )

    @pytest.mark.parametrize(
        ("field", "value", "message"),
        [
            ("mail_deny_senders", "not an address!", "Not an address or domain"),
            ("mail_spam_score", "lots", "must be a number"),
        ],
    )
    def test_bad_values_come_back_with_the_reason(
        self, client: TestClient, db: Database, field: str, value: str, message: str
    ) -> None:
        browser = Browser(client, db, make_admin(db))
        page = browser.post(
            "/admin/settings",
            {
                "ticket_prefix": "TICK",
                "attachment_retention_days": "30",
                "incoming_mail": "true",
                field: value,
            },
            back="/admin/settings",
        )
        assert flash(page).startswith("error: ") and message in flash(page)
