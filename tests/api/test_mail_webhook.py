"""`POST /api/v1/mail/inbound` (issue 5): a mail provider pushes raw mail, authenticated by the
mailbox's webhook secret alone. Stored and queued before the 202, refused early and cheaply
otherwise."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.types import Message
from tests.conftest import MakeClient
from tests.factories import Persona, make_admin, make_customer, web_session
from tests.mail_admin import (
    log_mail,
    mail_entries,
    make_mailbox,
    queued_jobs,
    raw_mail,
    set_mailbox,
    webhook_secret,
)

from ticketry.api.mail import _read_mail
from ticketry.core.db import Database
from ticketry.mail.inbound.errors import InboundMailTooLarge
from ticketry.mail.log.models import Direction, MailStatus

URL = "/api/v1/mail/inbound"
RFC822 = {"content-type": "message/rfc822"}


def push(
    client: TestClient, secret: str | None, body: Any, content_type: str | None = "message/rfc822"
) -> Any:
    headers = {}
    if secret is not None:
        headers["authorization"] = f"Bearer {secret}"
    if content_type is not None:
        headers["content-type"] = content_type
    return client.post(URL, content=body, headers=headers)


def inbound_mail(db: Database) -> list[Any]:
    return [e for e in mail_entries(db) if e.direction is Direction.INBOUND]


class Pushed:
    def __init__(self, db: Database, admin: Persona) -> None:
        self.mailbox_id = make_mailbox(db, admin, imap_host="")
        self.secret = webhook_secret(db, admin, self.mailbox_id)


@pytest.fixture
def admin(db: Database) -> Persona:
    return make_admin(db)


class TestReceive:
    def test_the_mail_is_stored_and_queued(self, client: TestClient, db: Database, admin: Persona) -> None:
        box = Pushed(db, admin)
        raw = raw_mail(sender="carla@customer.example", subject="The printer is on fire")

        response = push(client, box.secret, raw)

        assert response.status_code == 202, response.text
        [entry] = inbound_mail(db)
        assert response.json() == {"id": entry.id, "status": "received"}
        assert (entry.status, entry.purpose, entry.mailbox_id) == (
            MailStatus.RECEIVED,
            "webhook",
            box.mailbox_id,
        )
        assert (entry.sender, entry.subject) == ("carla@customer.example", "The printer is on fire")
        assert entry.raw == raw
        assert queued_jobs(db, "mail.ingest") == [{"mail_log_id": entry.id}]

    @pytest.mark.parametrize(
        "content_type", ["application/octet-stream", "text/plain; charset=utf-8", "Message/RFC822"]
    )
    def test_other_names_of_a_raw_mail_are_taken(
        self, client: TestClient, db: Database, admin: Persona, content_type: str
    ) -> None:
        box = Pushed(db, admin)
        assert push(client, box.secret, raw_mail(), content_type).status_code == 202

    def test_a_body_in_chunks_is_taken(self, client: TestClient, db: Database, admin: Persona) -> None:
        box = Pushed(db, admin)
        raw = raw_mail(body="line\n" * 20000)

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(raw), 4096):
                yield raw[start : start + 4096]

        assert push(client, box.secret, chunks()).status_code == 202
        assert inbound_mail(db)[0].raw == raw


class TestAuthentication:
    def test_a_wrong_or_missing_secret_is_401_alike_and_stores_nothing(
        self, client: TestClient, db: Database, admin: Persona
    ) -> None:
        box = Pushed(db, admin)
        wrong = push(client, box.secret + "x", raw_mail())
        missing = push(client, None, raw_mail())
        empty = client.post(URL, content=raw_mail(), headers={**RFC822, "authorization": "Bearer "})
        basic = client.post(
            URL, content=raw_mail(), headers={**RFC822, "authorization": f"Basic {box.secret}"}
        )

        for response in (wrong, missing, empty, basic):
            assert response.status_code == 401, response.text
            assert response.json() == wrong.json()
            assert response.headers["www-authenticate"] == "Bearer"
        assert wrong.json()["error"]["code"] == "invalid_webhook_secret"
        assert inbound_mail(db) == []
        assert queued_jobs(db, "mail.ingest") == []

    def test_user_credentials_are_not_a_webhook_secret(
        self, client: TestClient, db: Database, admin: Persona
    ) -> None:
        Pushed(db, admin)
        by_token = push(client, admin.token, raw_mail())
        cookie, csrf = web_session(db, admin)
        client.cookies.set("ticketry_session", cookie)
        by_cookie = client.post(URL, content=raw_mail(), headers={**RFC822, "x-csrf-token": csrf})
        assert (by_token.status_code, by_cookie.status_code) == (401, 401)
        assert inbound_mail(db) == []

    def test_an_inactive_mailbox_is_401(self, client: TestClient, db: Database, admin: Persona) -> None:
        box = Pushed(db, admin)
        set_mailbox(db, box.mailbox_id, is_active=False)
        assert push(client, box.secret, raw_mail()).status_code == 401
        assert inbound_mail(db) == []

    def test_a_turned_off_or_replaced_secret_is_401(
        self, client: TestClient, db: Database, admin: Persona
    ) -> None:
        box, other = Pushed(db, admin), Pushed(db, admin)
        newer = webhook_secret(db, admin, box.mailbox_id)
        client.delete(f"/api/v1/mailboxes/{other.mailbox_id}/webhook-secret", headers=admin.headers)

        assert push(client, box.secret, raw_mail()).status_code == 401
        assert push(client, other.secret, raw_mail()).status_code == 401
        assert push(client, newer, raw_mail()).status_code == 202

    def test_each_secret_lands_in_its_own_mailbox(
        self, client: TestClient, db: Database, admin: Persona
    ) -> None:
        first, second = Pushed(db, admin), Pushed(db, admin)
        push(client, second.secret, raw_mail())
        push(client, first.secret, raw_mail())
        assert [e.mailbox_id for e in inbound_mail(db)] == [second.mailbox_id, first.mailbox_id]

    def test_the_secret_is_checked_before_the_content_type(
        self, client: TestClient, db: Database, admin: Persona
    ) -> None:
        Pushed(db, admin)
        assert push(client, "whsec_wrong", b"{}", "application/json").status_code == 401


class TestRefusals:
    def test_over_the_size_limit_is_413_and_nothing_is_kept(
        self, make_client: MakeClient, db: Database, admin: Persona
    ) -> None:
        client = make_client(mail_max_message_size=2000)
        box = Pushed(db, admin)
        raw = raw_mail(body="x" * 3000)

        declared = push(client, box.secret, raw)
        streamed = push(client, box.secret, iter([raw[:1000], raw[1000:2500], raw[2500:]]))

        for response in (declared, streamed):
            assert response.status_code == 413, response.text
            assert response.json()["error"]["code"] == "mail_too_large"
        assert inbound_mail(db) == []
        assert queued_jobs(db, "mail.ingest") == []

    def test_exactly_the_limit_is_taken(self, make_client: MakeClient, db: Database, admin: Persona) -> None:
        raw = raw_mail(body="y" * 500)
        client = make_client(mail_max_message_size=len(raw))
        box = Pushed(db, admin)
        assert push(client, box.secret, raw).status_code == 202
        assert push(client, box.secret, raw + b"\n").status_code == 413

    @pytest.mark.parametrize(
        "content_type", ["application/json", "multipart/form-data; boundary=x", "", None]
    )
    def test_another_content_type_is_415(
        self, client: TestClient, db: Database, admin: Persona, content_type: str | None
    ) -> None:
        box = Pushed(db, admin)
        response = push(client, box.secret, raw_mail(), content_type)
        assert response.status_code == 415, response.text
        assert response.json()["error"]["code"] == "unsupported_media_type"
        assert inbound_mail(db) == []

    @pytest.mark.parametrize("body", [b"", b"\r\n  \n"])
    def test_an_empty_body_is_422(
        self, client: TestClient, db: Database, admin: Persona, body: bytes
    ) -> None:
        box = Pushed(db, admin)
        response = push(client, box.secret, body)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "mail_empty"
        assert inbound_mail(db) == []

    def test_the_webhook_leaves_other_mail_alone(
        self, client: TestClient, db: Database, admin: Persona
    ) -> None:
        """Control for the counts above: entries that were there stay, and only the new one is added."""
        existing = log_mail(db, status=MailStatus.CREATED_TICKET)
        box = Pushed(db, admin)
        push(client, box.secret, raw_mail())
        kept, added = inbound_mail(db)
        assert (kept.id, added.status) == (existing, MailStatus.RECEIVED)


class TestReadingTheBody:
    """The body is read as it arrives and dropped at the first chunk over the limit (the test
    client hands the app the whole body at once, so the reader is driven directly here)."""

    @staticmethod
    def request(chunks: list[bytes], pulled: list[int], content_length: int | None = None) -> Request:
        headers = [(b"content-length", str(content_length).encode())] if content_length is not None else []

        async def receive() -> Message:
            pulled.append(len(pulled))
            more = len(pulled) < len(chunks)
            return {"type": "http.request", "body": chunks[len(pulled) - 1], "more_body": more}

        return Request({"type": "http", "method": "POST", "path": URL, "headers": headers}, receive)

    def test_reading_stops_at_the_first_chunk_over_the_limit(self) -> None:
        pulled: list[int] = []
        with pytest.raises(InboundMailTooLarge):
            asyncio.run(_read_mail(self.request([b"x" * 1000] * 100, pulled), 2500))
        assert len(pulled) == 3

    def test_a_declared_length_over_the_limit_is_refused_unread(self) -> None:
        pulled: list[int] = []
        with pytest.raises(InboundMailTooLarge):
            asyncio.run(_read_mail(self.request([b"x" * 10], pulled, content_length=2501), 2500))
        assert pulled == []

    def test_a_body_within_the_limit_is_read_whole(self) -> None:
        pulled: list[int] = []
        body = asyncio.run(_read_mail(self.request([b"ab", b"", b"cd"], pulled), 4))
        assert (body, len(pulled)) == (b"abcd", 3)


class TestNoSessionNeeded:
    def test_a_customer_cookie_does_not_matter(
        self, client: TestClient, db: Database, admin: Persona
    ) -> None:
        """No CSRF check and no user: a browser session alongside the secret changes nothing."""
        box = Pushed(db, admin)
        cookie, _ = web_session(db, make_customer(db))
        client.cookies.set("ticketry_session", cookie)
        assert push(client, box.secret, raw_mail()).status_code == 202
