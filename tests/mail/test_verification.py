"""E-mail verification end to end: an account with an unproven address sees a banner, asks for a
link, the link verifies, the banner goes away; a sign-up's own link proves the address at once;
through the pages and the API (docs/product.md §4)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.factories import make_admin, make_customer, web_session
from tests.mail.conftest import deliver
from tests.mailserver import MailServer, link_in
from ticketry.auth import directory
from ticketry.core.db import Database
from ticketry.users.models import User

FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
BANNER = "Please confirm your e-mail address"
VERIFY = "/api/v1/auth/verify-email"
RESEND = "/api/v1/users/me/verify-email"


def verified(db: Database, user_id: int) -> bool:
    with db.unit_of_work(write=False) as session:
        user = session.get(User, user_id)
        assert user is not None
        return user.email_verified_at is not None


def user_id_of(db: Database, email: str) -> int:
    with db.unit_of_work(write=False) as session:
        from ticketry.users import service as users

        user = users.find_user_by_email(session, email)
        assert user is not None
        return user.id


def sign_up(client: TestClient, email: str) -> None:
    form = client.get("/signup")
    token = FORM_TOKEN.search(form.text)
    assert token, form.text
    response = client.post("/signup", data={"email": email, "csrf_token": token[1]}, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/signup/sent"), response.text


def ask_for_a_link(client: TestClient, db: Database) -> str:
    """An unverified customer signed in in `client`, who asked for a link; its path."""
    customer = make_customer(db)
    cookie, csrf = web_session(db, customer)
    client.cookies.set("ticketry_session", cookie)
    client.post("/account/verify-email", data={"csrf_token": csrf}, follow_redirects=False)
    deliver(db)
    return customer.email


class TestVerificationInTheBrowser:
    def test_a_sign_up_is_verified_by_its_own_link_and_shows_no_banner(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        sign_up(client, "nora@example.test")
        deliver(db)

        [mail] = mailserver.to("nora@example.test")
        assert mail["Subject"] == "Finish creating your Ticketry account"
        url, token = link_in(mail)
        assert url.startswith("http://127.0.0.1:8000/signup/finish?token=")
        page = client.get(url.removeprefix("http://127.0.0.1:8000"))
        form_token = FORM_TOKEN.search(page.text)
        assert form_token
        done = client.post(
            "/signup/finish",
            data={
                "token": token,
                "name": "Nora New",
                "password": "long enough pw",
                "confirm": "long enough pw",
                "csrf_token": form_token[1],
            },
            follow_redirects=False,
        )

        assert (done.status_code, done.headers["location"]) == (303, "/")
        portal = client.get("/")
        assert "Welcome! Your account is ready." in portal.text
        assert BANNER not in portal.text
        assert verified(db, user_id_of(db, "nora@example.test"))

    def test_the_link_verifies_and_the_banner_goes(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        email = ask_for_a_link(client, db)
        [mail] = mailserver.to(email)
        assert mail["Subject"] == "Confirm your e-mail address for Ticketry"
        url, _ = link_in(mail)
        assert url.startswith("http://127.0.0.1:8000/verify-email?token=")

        page = client.get(url.removeprefix("http://127.0.0.1:8000"))

        assert page.status_code == 200
        assert "Your e-mail address is confirmed." in page.text
        assert BANNER not in page.text
        assert BANNER not in client.get("/").text
        assert verified(db, user_id_of(db, email))

    def test_the_banner_sends_the_link_again(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        cookie, csrf = web_session(db, customer)
        client.cookies.set("ticketry_session", cookie)
        portal = client.get("/")
        assert BANNER in portal.text
        assert 'action="/account/verify-email"' in portal.text

        response = client.post("/account/verify-email", data={"csrf_token": csrf}, follow_redirects=False)
        deliver(db)

        assert (response.status_code, response.headers["location"]) == (303, "/")
        assert f"We sent a new link to {customer.email}" in client.get("/").text
        [mail] = mailserver.to(customer.email)
        client.get(link_in(mail)[0].removeprefix("http://127.0.0.1:8000"))
        assert verified(db, customer.id)
        assert BANNER not in client.get("/").text

    def test_sending_again_needs_the_csrf_token(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        cookie, _ = web_session(db, customer)
        client.cookies.set("ticketry_session", cookie)

        response = client.post("/account/verify-email", data={"csrf_token": "forged"}, follow_redirects=False)
        deliver(db)

        assert response.status_code == 303
        assert mailserver.messages == []

    def test_staff_see_no_banner(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        cookie, _ = web_session(db, admin)
        client.cookies.set("ticketry_session", cookie)

        assert BANNER not in client.get("/desk").text

    def test_a_used_or_bogus_link_says_so(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        email = ask_for_a_link(client, db)
        path = link_in(mailserver.to(email)[0])[0].removeprefix("http://127.0.0.1:8000")
        assert client.get(path).status_code == 200

        again = client.get(path)
        bogus = client.get("/verify-email?token=nope")

        assert again.status_code == 400
        assert "already used" in again.text
        assert bogus.status_code == 400


class TestVerificationThroughTheApi:
    def test_resend_then_verify(self, client: TestClient, db: Database, mailserver: MailServer) -> None:
        customer = make_customer(db)

        assert client.post(RESEND, headers=customer.headers).status_code == 202
        deliver(db)
        _, token = link_in(mailserver.to(customer.email)[0])
        response = client.post(VERIFY, json={"token": token})

        assert response.status_code == 204, response.text
        assert verified(db, customer.id)
        assert client.post(VERIFY, json={"token": token}).json()["error"]["code"] == "invalid_token"

    def test_a_verified_address_gets_no_more_mail(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        client.post(RESEND, headers=customer.headers)
        deliver(db)
        client.post(VERIFY, json={"token": link_in(mailserver.to(customer.email)[0])[1]})

        assert client.post(RESEND, headers=customer.headers).status_code == 202
        deliver(db)

        assert len(mailserver.messages) == 1

    def test_resending_is_capped_at_three_an_hour(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)

        for _ in range(5):
            assert client.post(RESEND, headers=customer.headers).status_code == 202
        deliver(db)

        assert len(mailserver.messages) == 3

    def test_resending_needs_a_signed_in_user(self, client: TestClient) -> None:
        assert client.post(RESEND).status_code == 401

    def test_a_changed_address_is_unverified_and_old_links_die(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        admin = make_admin(db)
        client.post(RESEND, headers=customer.headers)
        deliver(db)
        _, token = link_in(mailserver.to(customer.email)[0])

        with db.unit_of_work() as session:
            directory.update_user(
                session, admin.actor, customer.id, provided=frozenset({"email"}), email="moved@example.test"
            )

        assert client.post(VERIFY, json={"token": token}).status_code == 400
        assert not verified(db, customer.id)
