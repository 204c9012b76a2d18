"""Attacks on the mailed links (password reset, e-mail verification): guessing a token, finding
out who has an account, using one kind of link for another, reading a link from the database."""

from __future__ import annotations

import base64
import hashlib

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import PASSWORD, make_customer
from tests.mail.conftest import deliver, mail_log
from tests.mailserver import MailServer, link_in, mailserver
from ticketry.auth import events as auth_events
from ticketry.auth.models import OneTimeToken
from ticketry.core.db import Database
from ticketry.jobs.models import Job

__all__ = ["mailserver"]

RESET = "/api/v1/auth/password-reset"
CONFIRM = "/api/v1/auth/password-reset/confirm"
VERIFY = "/api/v1/auth/verify-email"
RESEND = "/api/v1/users/me/verify-email"
LOGIN = "/api/v1/auth/login"


def reset_token(client: TestClient, db: Database, server: MailServer, email: str) -> str:
    assert client.post(RESET, json={"email": email}).status_code == 202
    deliver(db)
    return link_in(server.to(email)[-1])[1]


class TestTokenStrength:
    def test_a_token_carries_256_random_bits(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        tokens = {reset_token(client, db, mailserver, customer.email) for _ in range(3)}

        assert len(tokens) == 3
        for token in tokens:
            assert len(base64.urlsafe_b64decode(token + "=")) == 32

    def test_only_a_hash_of_the_token_is_stored(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        token = reset_token(client, db, mailserver, customer.email)

        with db.unit_of_work(write=False) as session:
            stored = list(session.scalars(select(OneTimeToken.token_hash)))

        assert stored == [hashlib.sha256(token.encode()).hexdigest()]
        [entry] = mail_log(db)
        assert entry.raw is None  # the sent mail, with its link, is not kept either

    def test_a_guessed_token_is_refused(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        token = reset_token(client, db, mailserver, customer.email)
        guess = token[:-1] + ("A" if token[-1] != "A" else "B")

        response = client.post(CONFIRM, json={"token": guess, "password": "a new passphrase"})

        assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_token")


class TestNoEnumeration:
    def test_known_and_unknown_addresses_get_identical_answers(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)

        known = client.post(RESET, json={"email": customer.email})
        unknown = client.post(RESET, json={"email": "nobody@example.test"})
        # The requests did the same thing: each queued one job, which decides later.
        with db.unit_of_work(write=False) as session:
            queued = list(session.scalars(select(Job.name).order_by(Job.id)))
        assert queued == [auth_events.PASSWORD_RESET_REQUESTED.name] * 2
        deliver(db)

        assert (known.status_code, known.content) == (unknown.status_code, unknown.content) == (202, b"")
        assert known.headers.keys() == unknown.headers.keys()
        assert [m.envelope_to for m in mailserver.messages] == [[customer.email]]

    def test_the_cap_does_not_show_either(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)

        answers = {client.post(RESET, json={"email": customer.email}).status_code for _ in range(5)}

        assert answers == {202}


class TestPurposeBinding:
    def test_a_verification_token_cannot_reset_a_password(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        client.post(RESEND, headers=customer.headers)
        deliver(db)
        verification = link_in(mailserver.to(customer.email)[0])[1]

        response = client.post(CONFIRM, json={"token": verification, "password": "attacker's choice"})

        assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_token")
        assert client.post(LOGIN, json={"email": customer.email, "password": PASSWORD}).status_code == 200

    def test_a_reset_token_cannot_verify_an_address(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        token = reset_token(client, db, mailserver, customer.email)

        assert client.post(VERIFY, json={"token": token}).status_code == 400
        # ... and was not spent by the attempt.
        assert client.post(CONFIRM, json={"token": token, "password": "a new passphrase"}).status_code == 204

    def test_the_reset_page_does_not_accept_a_verification_token(
        self, client: TestClient, db: Database, mailserver: MailServer
    ) -> None:
        customer = make_customer(db)
        client.post(RESEND, headers=customer.headers)
        deliver(db)
        verification = link_in(mailserver.to(customer.email)[0])[1]

        page = client.get(f"/password/reset?token={verification}")

        assert page.status_code == 400
        assert 'name="password"' not in page.text
