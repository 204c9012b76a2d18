"""Forgotten passwords end to end: the request, the mail at a real SMTP server, the link, the new
password; through the API and through the pages (docs/product.md §4)."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import PASSWORD, make_customer, web_session
from tests.mail.conftest import deliver, mail_log
from tests.mailserver import MailServer, link_in
from ticketry.auth import mail as account_mail
from ticketry.auth.models import OneTimeToken
from ticketry.core.clock import now, travel_to
from ticketry.core.db import Database
from ticketry.mail.log.models import MailStatus

RESET = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
LOGIN = "/api/v1/auth/login"
ME = "/api/v1/users/me"
NEW_PASSWORD = "a brand new passphrase"
FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
FLASH = re.compile(r'<p class="flash flash-(\w+)"[^>]*>(.*?)</p>', re.S)


def ask(client: TestClient, db: Database, email: str) -> None:
    assert client.post(RESET, json={"email": email}).status_code == 202
    deliver(db)


def login_status(client: TestClient, email: str, password: str) -> int:
    return client.post(LOGIN, json={"email": email, "password": password}).status_code


class TestResetThroughTheApi:
    def test_the_mailed_link_resets_the_password(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)

        ask(client, db, customer.email.upper())

        [mail] = mailserver.to(customer.email)
        assert mail["Subject"] == "Reset your Ticketry password"
        assert mail["Auto-Submitted"] == "auto-replied"
        assert mail["Message-ID"].endswith("@localhost>")
        url, token = link_in(mail)
        assert url.startswith("http://127.0.0.1:8000/password/reset?token=")
        html_part = mail.get_body(preferencelist=("html",))
        assert html_part is not None and token in html_part.get_content()

        response = client.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})

        assert response.status_code == 204, response.text
        assert login_status(client, customer.email, PASSWORD) == 401
        assert login_status(client, customer.email, NEW_PASSWORD) == 200
        [entry] = mail_log(db)
        assert (entry.status, entry.purpose, entry.raw) == (MailStatus.SENT, "password_reset", None)

    def test_the_reset_ends_every_session_and_token(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        cookie, _ = web_session(db, customer)
        ask(client, db, customer.email)
        _, token = link_in(mailserver.to(customer.email)[0])

        assert client.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD}).status_code == 204

        assert client.get(ME, headers=customer.headers).status_code == 401
        client.cookies.set("ticketry_session", cookie)
        assert client.get(ME).status_code == 401

    def test_a_link_works_once(self, client: TestClient, db: Database, mailserver: MailServer) -> None:
        customer = make_customer(db)
        ask(client, db, customer.email)
        _, token = link_in(mailserver.to(customer.email)[0])
        assert client.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD}).status_code == 204

        again = client.post(CONFIRM, json={"token": token, "password": "yet another passphrase"})

        assert again.status_code == 400
        assert again.json()["error"]["code"] == "invalid_token"
        assert login_status(client, customer.email, NEW_PASSWORD) == 200

    def test_an_expired_link_is_refused(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        with travel_to(now() - timedelta(minutes=61)), db.unit_of_work() as session:
            account_mail.send_password_reset(session, customer.email)
        deliver(db)
        _, token = link_in(mailserver.to(customer.email)[0])

        response = client.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD})

        assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_token")
        assert login_status(client, customer.email, PASSWORD) == 200

    def test_a_newer_link_replaces_the_older_one(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        ask(client, db, customer.email)
        ask(client, db, customer.email)
        first, second = (link_in(m)[1] for m in mailserver.to(customer.email))

        assert client.post(CONFIRM, json={"token": first, "password": NEW_PASSWORD}).status_code == 400
        assert client.post(CONFIRM, json={"token": second, "password": NEW_PASSWORD}).status_code == 204

    def test_a_too_short_password_keeps_the_link_usable(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        ask(client, db, customer.email)
        _, token = link_in(mailserver.to(customer.email)[0])

        short = client.post(CONFIRM, json={"token": token, "password": "short"})

        assert short.status_code == 422
        assert client.post(CONFIRM, json={"token": token, "password": NEW_PASSWORD}).status_code == 204

    def test_an_unknown_address_gets_the_same_answer_and_no_mail(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        response = client.post(RESET, json={"email": "nobody@example.test"})
        deliver(db)

        assert (response.status_code, response.content) == (202, b"")
        assert mailserver.messages == []
        assert mail_log(db) == []

    def test_a_disabled_account_gets_no_mail(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        with db.unit_of_work() as session:
            from ticketry.users.models import User

            user = session.get(User, customer.id)
            assert user is not None
            user.is_active = False

        ask(client, db, customer.email)

        assert mailserver.messages == []

    def test_at_most_three_mails_an_hour(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)

        for _ in range(5):
            ask(client, db, customer.email)

        assert len(mailserver.to(customer.email)) == 3
        with travel_to(now() + timedelta(minutes=61)):
            with db.unit_of_work() as session:
                account_mail.send_password_reset(session, customer.email)
            deliver(db)
        assert len(mailserver.to(customer.email)) == 4

    def test_input_is_bounded(self, client: TestClient) -> None:
        assert client.post(RESET, json={"email": "a" * 300}).status_code == 422
        assert client.post(RESET, json={"email": "x@example.test", "extra": 1}).status_code == 422
        assert client.post(CONFIRM, json={"token": "t" * 201, "password": NEW_PASSWORD}).status_code == 422

    def test_expired_links_are_purged(self, db: Database, mailserver: MailServer) -> None:
        customer = make_customer(db)
        with travel_to(now() - timedelta(hours=2)), db.unit_of_work() as session:
            account_mail.send_password_reset(session, customer.email)
        with db.unit_of_work() as session:
            account_mail.send_password_reset(session, customer.email)

        from ticketry.auth import service as auth_service

        with db.unit_of_work() as session:
            auth_service.purge_expired(session)
            left = list(session.scalars(select(OneTimeToken)))

        assert len(left) == 1
        assert left[0].expires_at > now()


class TestResetInTheBrowser:
    def _form_token(self, page: str) -> str:
        match = FORM_TOKEN.search(page)
        assert match, page
        return match.group(1)

    def _flash(self, page: str) -> str:
        match = FLASH.search(page)
        assert match, "no flash on the page"
        return f"{match.group(1)}: {match.group(2)}"

    def _forgot(self, client: TestClient, email: str) -> str:
        login = client.get("/login")
        assert 'href="/password/forgot"' in login.text
        form = client.get("/password/forgot")
        assert form.status_code == 200
        sent = client.post(
            "/password/forgot",
            data={"email": email, "csrf_token": self._form_token(form.text)},
            follow_redirects=False,
        )
        assert (sent.status_code, sent.headers["location"]) == (303, "/login")
        return self._flash(client.get("/login").text)

    def test_forgot_reset_and_sign_in(self, client: TestClient, db: Database, mailserver: MailServer) -> None:
        customer = make_customer(db)

        answer = self._forgot(client, customer.email)
        deliver(db)

        assert answer == f"info: {account_mail_answer()}"
        url, token = link_in(mailserver.to(customer.email)[0])
        path = url.removeprefix("http://127.0.0.1:8000")
        page = client.get(path)
        assert page.status_code == 200
        assert page.headers["cache-control"] == "no-store"
        assert f'value="{token}"' in page.text
        done = client.post(
            "/password/reset",
            data={
                "token": token,
                "password": NEW_PASSWORD,
                "confirm": NEW_PASSWORD,
                "csrf_token": self._form_token(page.text),
            },
            follow_redirects=False,
        )
        assert (done.status_code, done.headers["location"]) == (303, "/login")
        login = client.get("/login")
        assert self._flash(login.text).startswith("success: Your password is changed.")
        signed_in = client.post(
            "/login",
            data={
                "email": customer.email,
                "password": NEW_PASSWORD,
                "csrf_token": self._form_token(login.text),
            },
            follow_redirects=False,
        )
        assert (signed_in.status_code, signed_in.headers["location"]) == (303, "/")
        # The link is spent: the page now says so.
        dead = client.get(path)
        assert dead.status_code == 400
        assert "invalid or has expired" in dead.text
        assert 'href="/password/forgot"' in dead.text

    def test_an_unknown_address_gets_the_same_flash(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)

        known = self._forgot(client, customer.email)
        unknown = self._forgot(client, "nobody@example.test")
        deliver(db)

        assert known == unknown
        assert len(mailserver.messages) == 1

    def test_mismatched_passwords_come_back_to_the_form(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        self._forgot(client, customer.email)
        deliver(db)
        url, token = link_in(mailserver.to(customer.email)[0])
        path = url.removeprefix("http://127.0.0.1:8000")
        page = client.get(path)

        response = client.post(
            "/password/reset",
            data={
                "token": token,
                "password": NEW_PASSWORD,
                "confirm": "something else entirely",
                "csrf_token": self._form_token(page.text),
            },
            headers={"referer": f"http://testserver{path}"},
            follow_redirects=False,
        )

        assert (response.status_code, response.headers["location"]) == (303, path)
        again = client.get(path)
        assert self._flash(again.text) == "error: The new passwords do not match."
        assert f'value="{token}"' in again.text

    def test_the_forms_need_their_csrf_token(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        client.get("/password/forgot")

        response = client.post(
            "/password/forgot", data={"email": customer.email, "csrf_token": "forged"}, follow_redirects=False
        )

        assert response.status_code == 303
        assert "The form expired" in client.get(response.headers["location"]).text

    def test_a_bogus_link_shows_the_dead_link_page(self, client: TestClient) -> None:
        page = client.get("/password/reset?token=not-a-real-token")

        assert page.status_code == 400
        assert "This link does not work" in page.text


def account_mail_answer() -> str:
    from ticketry.web.accounts import FORGOT_ANSWER

    return FORGOT_ANSWER
