"""Attacks on signing up (issue 12 item 7): finding out who has an account (CWE-204 observable
response discrepancy / account enumeration), creating accounts in bulk (CWE-799 improper control
of interaction frequency, CWE-770), making the helpdesk mail words an attacker chose to any
address (content spoofing through our own mail, CWE-451 / "sign-up spam"), and taking over an
address before its owner signs up (pre-account hijacking)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import getaddresses

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import make_admin, make_customer
from tests.mail.conftest import deliver
from tests.mailserver import MailServer, link_in, mailserver
from ticketry.app import create_app
from ticketry.auth import directory
from ticketry.auth.models import Signup
from ticketry.core.config import Settings, get_settings
from ticketry.core.db import Database
from ticketry.jobs.models import Job
from ticketry.users import service as users
from ticketry.users.models import Role, User

__all__ = ["mailserver"]

FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
HOSTILE = "Call +1-555-0100 now to keep your account: http://evil.example/login"


def sign_up(client: TestClient, email: str, **extra: str) -> tuple[int, str, str]:
    """(status, where it sends the browser, the page there) for the sign-up form."""
    form = client.get("/signup")
    token = FORM_TOKEN.search(form.text)
    assert token, form.text
    response = client.post(
        "/signup", data={"email": email, "csrf_token": token[1], **extra}, follow_redirects=False
    )
    location = response.headers.get("location", "")
    landed = client.get(location).text if location else response.text
    return response.status_code, location, landed


NEW_PASSWORD = "long enough pw"


def finish(client: TestClient, link: str, *, name: str = "Nora New", password: str = NEW_PASSWORD) -> object:
    path = link.removeprefix("http://127.0.0.1:8000")
    page = client.get(path)
    assert page.status_code == 200, page.text
    token = FORM_TOKEN.search(page.text)
    assert token
    secret = path.split("token=", 1)[1]
    return client.post(
        "/signup/finish",
        data={
            "token": secret,
            "name": name,
            "password": password,
            "confirm": password,
            "csrf_token": token[1],
        },
        follow_redirects=False,
    )


def user_count(db: Database) -> int:
    with db.unit_of_work(write=False) as session:
        return session.scalar(select(func.count()).select_from(User)) or 0


def text_of(mail: EmailMessage) -> str:
    parts = [mail.get_body(preferencelist=(kind,)) for kind in ("plain", "html")]
    return "\n".join(part.get_content() for part in parts if part is not None)


@contextmanager
def client_at(db: Database, settings: Settings, address: str) -> Iterator[TestClient]:
    app = create_app(settings, db=db, background=False)
    with TestClient(app, raise_server_exceptions=False, client=(address, 40000)) as client:
        yield client


class TestNoEnumeration:
    def test_a_new_and_an_existing_address_get_the_same_answer(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        """Before: "A user with this e-mail address already exists"."""
        customer = make_customer(db)
        before = user_count(db)

        existing = sign_up(client, customer.email)
        client.cookies.clear()
        new = sign_up(client, "nora@example.test")

        assert existing == new
        assert existing[:2] == (303, "/signup/sent")
        assert "already exists" not in existing[2]
        assert user_count(db) == before  # nothing is created before the address is proven
        with db.unit_of_work(write=False) as session:
            queued = list(session.scalars(select(Job.name).order_by(Job.id)))
        assert queued == ["auth.signup_requested"] * 2

    def test_nothing_can_sign_in_before_the_link_is_followed(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        """The old flow signed the new account in at once: signing in with the chosen password
        then told a new address from a taken one."""
        sign_up(client, "nora@example.test", password="long enough pw", name="Nora")
        deliver(db)

        login = client.post(
            "/api/v1/auth/login", json={"email": "nora@example.test", "password": "long enough pw"}
        )

        assert (login.status_code, login.json()["error"]["code"]) == (401, "invalid_credentials")

    def test_the_owner_of_a_taken_address_is_told_in_fixed_words_and_the_new_one_gets_a_link(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        sign_up(client, customer.email, name=HOSTILE)
        client.cookies.clear()
        sign_up(client, "nora@example.test", name=HOSTILE)
        deliver(db)

        [notice] = mailserver.to(customer.email)
        [link_mail] = mailserver.to("nora@example.test")
        assert notice["Subject"] == "You already have a Ticketry account"
        assert "/password/forgot" in text_of(notice)
        assert "?token=" not in text_of(notice)
        assert link_in(link_mail)[0].startswith("http://127.0.0.1:8000/signup/finish?token=")
        for mail in (notice, link_mail):
            assert "evil.example" not in text_of(mail) and "555" not in text_of(mail)
        assert getaddresses([str(link_mail["To"])]) == [("", "nora@example.test")]


class TestFinishingTheSignUp:
    def test_the_link_creates_a_verified_account_signed_in(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        sign_up(client, "nora@example.test")
        deliver(db)
        link, _ = link_in(mailserver.to("nora@example.test")[0])

        response = finish(client, link, name="  Nora   New ")

        assert response.status_code == 303  # type: ignore[attr-defined]
        assert client.get("/api/v1/users/me").json()["name"] == "Nora New"
        with db.unit_of_work(write=False) as session:
            user = users.find_user_by_email(session, "nora@example.test")
            assert user is not None
            assert (user.role, user.email_verified_at is not None) == (Role.CUSTOMER, True)
        again = client.get(link.removeprefix("http://127.0.0.1:8000"))
        assert again.status_code == 400

    def test_whoever_did_not_receive_the_mail_cannot_finish(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        """Pre-account hijacking: the attacker signed up with the victim's address; the password
        is chosen only through the link in the victim's mailbox."""
        sign_up(client, "victim@example.test")
        deliver(db)
        page = client.get("/signup/finish?token=guessed")
        form = client.get("/signup")
        token = FORM_TOKEN.search(form.text)
        assert token

        response = client.post(
            "/signup/finish",
            data={
                "token": "guessed",
                "name": "x",
                "password": "attacker pw",
                "confirm": "attacker pw",
                "csrf_token": token[1],
            },
            follow_redirects=False,
        )

        assert page.status_code == 400
        assert response.status_code == 303 and "/signup/finish" not in response.headers["location"]
        assert user_count(db) == 0

    def test_an_address_that_got_an_account_meanwhile_is_refused(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        sign_up(client, "nora@example.test")
        deliver(db)
        link, _ = link_in(mailserver.to("nora@example.test")[0])
        admin = make_admin(db)
        with db.unit_of_work() as session:
            directory.create_user(
                session,
                admin.actor,
                email="nora@example.test",
                name="Nora",
                role=Role.CUSTOMER,
                password=None,
            )

        response = finish(client, link)

        assert response.status_code == 303  # type: ignore[attr-defined]
        assert "has an account already" in client.get(response.headers["location"]).text  # type: ignore[attr-defined]
        with db.unit_of_work(write=False) as session:
            user = users.find_user_by_email(session, "nora@example.test")
            assert user is not None and user.password_hash is None


class TestRateLimits:
    def test_one_client_address_is_limited_with_429_and_retry_after(
        self, db: Database, settings: Settings, mailserver: MailServer
    ) -> None:
        """Before: 20 of 20 sign-ups from one address succeeded."""
        limit = settings.signup_max_per_ip
        with client_at(db, settings, "203.0.113.5") as attacker:
            answers = [sign_up(attacker, f"bulk{n}@example.test")[0] for n in range(limit)]
            refused = sign_up(attacker, "one-more@example.test")
            form = attacker.get("/signup")
            token = FORM_TOKEN.search(form.text)
            assert token
            raw = attacker.post("/signup", data={"email": "raw@example.test", "csrf_token": token[1]})
        with client_at(db, settings, "198.51.100.9") as someone_else:
            other = sign_up(someone_else, "fine@example.test")

        assert answers == [303] * limit
        assert refused[0] == 429
        assert "Too many sign-ups" in refused[2]
        assert int(raw.headers["Retry-After"]) > 0
        assert other[:2] == (303, "/signup/sent")
        with db.unit_of_work(write=False) as session:
            emails = set(session.scalars(select(Signup.email)))
        assert "one-more@example.test" not in emails and "raw@example.test" not in emails

    def test_all_addresses_together_are_capped(
        self, db: Database, settings: Settings, mailserver: MailServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("TICKETRY_SIGNUP_MAX_TOTAL", "3")
        get_settings.cache_clear()
        capped = get_settings().model_copy(update={"database_url": settings.database_url})
        for n in range(3):
            with client_at(db, capped, f"198.51.100.{n + 1}") as someone:
                assert sign_up(someone, f"user{n}@example.test")[0] == 303
        with client_at(db, capped, "198.51.100.99") as late:
            status, _, page = sign_up(late, "late@example.test")

        assert status == 429
        assert "Too many sign-ups right now" in page

    def test_mail_to_one_address_is_capped(
        self, client: TestClient, db: Database, mailserver: MailServer, settings: Settings
    ) -> None:
        """Sign-ups from many addresses cannot flood one mailbox either."""
        customer = make_customer(db)
        for n in range(5):
            with client_at(db, settings, f"198.51.100.{n + 1}") as someone:
                sign_up(someone, customer.email)
        deliver(db)

        assert len(mailserver.to(customer.email)) == 3


class TestNoChosenWordsToUnprovenAddresses:
    def test_the_sign_up_form_takes_no_name(self, client: TestClient) -> None:
        form = client.get("/signup").text
        assert 'name="name"' not in form and 'name="password"' not in form

    @pytest.mark.parametrize("path", ["/api/v1/users/me/verify-email", "/api/v1/auth/password-reset"])
    def test_account_mail_to_an_unverified_address_carries_no_chosen_name(
        self, client: TestClient, db: Database, mailserver: MailServer, path: str
    ) -> None:
        """An account whose name someone chose (made from a mail's From:, or by a sign-up before
        this change) gets account mail with no trace of the name until the address is proven."""
        customer = make_customer(db)
        with db.unit_of_work() as session:
            users.get_user(session, customer.id).name = HOSTILE
        if path.endswith("verify-email"):
            client.post(path, headers=customer.headers)
        else:
            client.post(path, json={"email": customer.email})
        deliver(db)

        [mail] = mailserver.to(customer.email)
        assert "evil.example" not in text_of(mail) and "555" not in text_of(mail)
        assert "evil.example" not in str(mail["To"])
        assert text_of(mail).startswith("Hello,")

    def test_a_verified_user_is_still_greeted_by_name(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        """Control: the name is left out only while the address is unproven."""
        customer = make_customer(db)
        with db.unit_of_work() as session:
            user = users.get_user(session, customer.id)
            user.name = "Grace Hopper"
            users.mark_all_verified(session)
        client.post("/api/v1/auth/password-reset", json={"email": customer.email})
        deliver(db)

        [mail] = mailserver.to(customer.email)
        assert text_of(mail).startswith("Hello Grace Hopper,")
        assert getaddresses([str(mail["To"])]) == [("Grace Hopper", customer.email)]


def test_signing_up_when_sign_up_is_off_creates_nothing(client: TestClient, db: Database) -> None:
    closed = client.patch(
        "/api/v1/admin/settings", json={"allowSignup": False}, headers=make_admin(db).headers
    )
    assert closed.status_code == 200
    form = client.get("/login")
    token = FORM_TOKEN.search(form.text)
    assert token
    response = client.post(
        "/signup", data={"email": "eve@example.test", "csrf_token": token[1]}, follow_redirects=False
    )
    assert response.status_code == 303
    with db.unit_of_work(write=False) as session:
        assert session.scalar(select(func.count()).select_from(Signup)) == 0
