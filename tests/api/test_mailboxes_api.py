"""`/api/v1/mailboxes` (issue 5): admins manage support mailboxes; the IMAP password goes in and
never comes out; the connection test answers what the server said; the webhook secret is shown
once."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.conftest import MakeClient
from tests.factories import Persona, make_admin, make_agent, make_customer
from tests.imapserver import Dovecot, ImapUser, dovecot, imap_user
from tests.mail_admin import (
    IMAP_PASSWORD,
    department_id,
    log_mail,
    mail_entry,
    mailbox_row,
    make_mailbox,
    set_mailbox,
)
from tests.servers import closed_port

from ticketry.core import crypto
from ticketry.core.clock import now
from ticketry.core.db import Database
from ticketry.mailparse import imap
from ticketry.mailparse.imap import ImapAccount, ImapError, ImapSecurity

__all__ = ["dovecot", "imap_user"]

URL = "/api/v1/mailboxes"


def expect_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code, error
    return error


def create(client: TestClient, db: Database, admin: Persona, **fields: Any) -> dict[str, Any]:
    body = {
        "name": "Support",
        "address": "support@help.example.com",
        "departmentId": department_id(db),
        "imapHost": "imap.example.com",
        "imapUsername": "support",
        "imapPassword": IMAP_PASSWORD,
        **fields,
    }
    response = client.post(URL, json=body, headers=admin.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def sealed(db: Database, mailbox_id: int) -> str:
    row = mailbox_row(db, mailbox_id)
    assert row is not None
    return row.imap_password_sealed


class TestCreateMailbox:
    def test_admin_creates_an_imap_mailbox_with_the_defaults(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        body = create(client, db, admin, address="Support@Help.Example.COM")

        assert body["address"] == "support@help.example.com"
        assert body["departmentId"] == department_id(db)
        assert {k: body[k] for k in ("imapPort", "imapSecurity", "imapFolder", "processedAction")} == {
            "imapPort": 993,
            "imapSecurity": "tls",
            "imapFolder": "INBOX",
            "processedAction": "mark_seen",
        }
        assert (body["processedFolder"], body["pollIntervalSeconds"], body["isActive"]) == (
            "Processed",
            60,
            True,
        )
        assert (body["hasPassword"], body["webhookEnabled"]) == (True, False)
        assert (body["uidvalidity"], body["lastUid"], body["lastPolledAt"], body["lastError"]) == (
            None,
            0,
            None,
            "",
        )
        assert "imapPassword" not in body and "imapPasswordSealed" not in body
        stored = sealed(db, body["id"])
        assert stored != IMAP_PASSWORD
        assert crypto.unseal("mailbox-imap", stored) == IMAP_PASSWORD

    def test_webhook_only_mailbox_needs_no_imap_settings(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        response = client.post(
            URL,
            json={"name": "Pushed", "address": "push@help.example.com", "department_id": department_id(db)},
            headers=admin.headers,
        )
        assert response.status_code == 201, response.text
        assert (response.json()["imapHost"], response.json()["hasPassword"]) == ("", False)

    @pytest.mark.parametrize(
        "address", ["not-an-address", "@help.example.com", "a b@example.com", "<x@y.example>"]
    )
    def test_bad_address_is_refused(self, client: TestClient, db: Database, address: str) -> None:
        admin = make_admin(db)
        response = client.post(
            URL,
            json={"name": "X", "address": address, "departmentId": department_id(db)},
            headers=admin.headers,
        )
        expect_error(response, 422, "invalid_mailbox")
        assert client.get(URL, headers=admin.headers).json()["data"] == []

    @pytest.mark.parametrize("port", [0, -1, 65536])
    def test_port_out_of_range_is_refused(self, client: TestClient, db: Database, port: int) -> None:
        admin = make_admin(db)
        body = {
            "name": "X",
            "address": "x@help.example.com",
            "departmentId": department_id(db),
            "imapPort": port,
        }
        error = expect_error(client.post(URL, json=body, headers=admin.headers), 422, "validation_error")
        assert error["details"]["errors"][0]["field"] == "imapPort"

    @pytest.mark.parametrize(
        "field",
        [
            {"imapUsername": "support\r\nA1 LOGOUT"},
            {"imapFolder": "INBOX\r\nA2 DELETE INBOX"},
            {"processedFolder": "Done\x00"},
            {"imapPassword": "pass\nword"},
            {"imapHost": "imap.example.com\r\nA1 LOGOUT"},
            {"imapHost": "imap example.com"},
        ],
    )
    def test_control_characters_in_what_goes_to_the_server_are_refused(
        self, client: TestClient, db: Database, field: dict[str, str]
    ) -> None:
        admin = make_admin(db)
        body = {
            "name": "X",
            "address": "x@help.example.com",
            "departmentId": department_id(db),
            "imapHost": "imap.example.com",
            "imapUsername": "support",
            **field,
        }
        # A NUL is refused for every field of every request, before the mailbox rules look.
        code = "validation_error" if any("\x00" in value for value in field.values()) else "invalid_mailbox"
        expect_error(client.post(URL, json=body, headers=admin.headers), 422, code)
        assert client.get(URL, headers=admin.headers).json()["data"] == []

    def test_moving_processed_mail_into_the_polled_folder_is_refused(
        self, client: TestClient, db: Database
    ) -> None:
        admin = make_admin(db)
        base = {"name": "X", "address": "x@help.example.com", "departmentId": department_id(db)}
        implicit = {
            **base,
            "imapHost": "imap.example.com",
            "imapUsername": "u",
            "processedAction": "move",
            "processedFolder": "INBOX",
        }
        explicit = {**implicit, "imapFolder": "Support", "processedFolder": "Support"}
        for body in (implicit, explicit):
            expect_error(client.post(URL, json=body, headers=admin.headers), 422, "invalid_mailbox")
        moved = client.post(URL, json={**implicit, "processedFolder": "Done"}, headers=admin.headers)
        assert moved.status_code == 201, moved.text
        assert (moved.json()["processedAction"], moved.json()["processedFolder"]) == ("move", "Done")

    def test_unknown_key_and_unknown_security_are_refused(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        base = {"name": "X", "address": "x@help.example.com", "departmentId": department_id(db)}
        for body in (
            {**base, "imapPasword": "typo"},
            {**base, "imapSecurity": "ssl"},
            {**base, "imapPasswordSealed": "x"},
        ):
            expect_error(client.post(URL, json=body, headers=admin.headers), 422, "validation_error")

    def test_imap_host_without_a_user_is_refused(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        body = {
            "name": "X",
            "address": "x@help.example.com",
            "departmentId": department_id(db),
            "imapHost": "imap.example.com",
        }
        expect_error(client.post(URL, json=body, headers=admin.headers), 422, "invalid_mailbox")

    def test_an_address_is_one_mailbox_only(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        create(client, db, admin)
        response = client.post(
            URL,
            json={"name": "Again", "address": "SUPPORT@help.example.com", "departmentId": department_id(db)},
            headers=admin.headers,
        )
        expect_error(response, 409, "mailbox_address_taken")

    def test_unknown_department_is_a_404(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        response = client.post(
            URL,
            json={"name": "X", "address": "x@help.example.com", "departmentId": 999999},
            headers=admin.headers,
        )
        expect_error(response, 404, "department_not_found")


class TestReadMailboxes:
    def test_list_is_the_envelope_sorted_by_name(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        zulu = create(client, db, admin, name="Zulu", address="z@help.example.com")
        alpha = create(client, db, admin, name="Alpha", address="a@help.example.com")
        body = client.get(URL, headers=admin.headers).json()
        assert [m["id"] for m in body["data"]] == [alpha["id"], zulu["id"]]
        assert body["pagination"] == {
            "total": 2,
            "page": 1,
            "pageSize": 2,
            "totalPages": 1,
            "totalCapped": False,
        }

    def test_one_mailbox_and_an_unknown_one(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        created = create(client, db, admin)
        assert client.get(f"{URL}/{created['id']}", headers=admin.headers).json() == created
        expect_error(client.get(f"{URL}/99999", headers=admin.headers), 404, "mailbox_not_found")

    def test_poller_state_is_shown(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        created = create(client, db, admin)
        polled = now() - timedelta(minutes=3)
        set_mailbox(
            db,
            created["id"],
            uidvalidity=1717,
            last_uid=42,
            last_polled_at=polled,
            last_error="The server refused the user name or password.",
        )
        body = client.get(f"{URL}/{created['id']}", headers=admin.headers).json()
        assert (body["uidvalidity"], body["lastUid"]) == (1717, 42)
        assert body["lastError"] == "The server refused the user name or password."
        assert body["lastPolledAt"] is not None


class TestUpdateMailbox:
    def test_patch_changes_only_what_is_sent_and_an_empty_password_keeps_it(
        self, client: TestClient, db: Database
    ) -> None:
        admin = make_admin(db)
        created = create(client, db, admin)
        before = sealed(db, created["id"])

        renamed = client.patch(
            f"{URL}/{created['id']}", json={"name": "Help desk", "imapPassword": ""}, headers=admin.headers
        )
        kept = client.patch(
            f"{URL}/{created['id']}", json={"pollIntervalSeconds": 300}, headers=admin.headers
        )

        assert renamed.status_code == 200, renamed.text
        assert kept.json()["name"] == "Help desk"
        assert kept.json()["pollIntervalSeconds"] == 300
        assert kept.json()["imapHost"] == "imap.example.com"
        assert sealed(db, created["id"]) == before

    def test_a_new_password_replaces_the_stored_one(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        created = create(client, db, admin)
        response = client.patch(
            f"{URL}/{created['id']}", json={"imap_password": "another-one"}, headers=admin.headers
        )
        assert response.status_code == 200, response.text
        assert crypto.unseal("mailbox-imap", sealed(db, created["id"])) == "another-one"

    def test_another_folder_starts_from_its_beginning(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        created = create(client, db, admin)
        set_mailbox(db, created["id"], uidvalidity=7, last_uid=99)
        same = client.patch(f"{URL}/{created['id']}", json={"name": "Renamed"}, headers=admin.headers).json()
        moved = client.patch(
            f"{URL}/{created['id']}", json={"imapFolder": "Support"}, headers=admin.headers
        ).json()
        assert (same["uidvalidity"], same["lastUid"]) == (7, 99)
        assert (moved["uidvalidity"], moved["lastUid"]) == (None, 0)

    def test_refused_changes_change_nothing(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        created = create(client, db, admin)
        path = f"{URL}/{created['id']}"
        expect_error(client.patch(path, json={"imapPort": 0}, headers=admin.headers), 422, "validation_error")
        expect_error(
            client.patch(
                path,
                json={"name": "Moved", "processedAction": "move", "processedFolder": "INBOX"},
                headers=admin.headers,
            ),
            422,
            "invalid_mailbox",
        )
        expect_error(
            client.patch(path, json={"imapFolder": "a\rb"}, headers=admin.headers), 422, "invalid_mailbox"
        )
        expect_error(
            client.patch(path, json={"pollIntervalSeconds": 1}, headers=admin.headers),
            422,
            "validation_error",
        )
        assert client.get(path, headers=admin.headers).json() == created

    def test_unknown_mailbox_is_a_404(self, client: TestClient, db: Database) -> None:
        response = client.patch(f"{URL}/99999", json={"name": "X"}, headers=make_admin(db).headers)
        expect_error(response, 404, "mailbox_not_found")


class TestDeleteMailbox:
    def test_the_mailbox_goes_and_its_mail_stays_in_the_log(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        created = create(client, db, admin)
        entry_id = log_mail(db, mailbox_id=created["id"])

        response = client.delete(f"{URL}/{created['id']}", headers=admin.headers)

        assert response.status_code == 204
        expect_error(client.get(f"{URL}/{created['id']}", headers=admin.headers), 404, "mailbox_not_found")
        entry = mail_entry(db, entry_id)
        assert entry is not None
        assert entry.mailbox_id is None


class TestPasswordIsNeverShown:
    def test_no_answer_carries_the_password_or_its_sealed_form(
        self, client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(imap, "probe", lambda account: f"Connected as {account.username}.")
        admin = make_admin(db)
        created = create(client, db, admin)
        path = f"{URL}/{created['id']}"
        stored = sealed(db, created["id"])
        answers = [
            client.get(URL, headers=admin.headers),
            client.get(path, headers=admin.headers),
            client.patch(path, json={"name": "Renamed"}, headers=admin.headers),
            client.post(f"{path}/poll", headers=admin.headers),
            client.post(f"{path}/test", headers=admin.headers),
            client.post(f"{path}/webhook-secret", headers=admin.headers),
        ]
        assert all(a.status_code < 300 for a in answers), [a.text for a in answers]
        for answer in answers:
            assert IMAP_PASSWORD not in answer.text
            assert stored not in answer.text
            assert stored[:40] not in answer.text
        views = [a.json() for a in answers[1:4]]
        assert all("imapPassword" not in view and view["hasPassword"] is True for view in views)


class TestConnectionTest:
    def test_a_closed_port_is_an_answer_not_an_error(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        port = closed_port()
        mailbox_id = make_mailbox(db, admin, imap_host="127.0.0.1", imap_port=port)

        response = client.post(f"{URL}/{mailbox_id}/test", headers=admin.headers)

        assert response.status_code == 200, response.text
        assert response.json() == {
            "ok": False,
            "message": f"Could not connect to 127.0.0.1:{port}: connection refused",
        }

    def test_the_probe_gets_the_saved_settings_and_a_short_timeout(
        self, client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        seen: list[ImapAccount] = []

        def probe(account: ImapAccount) -> str:
            seen.append(account)
            return "Connected; 3 messages in INBOX."

        monkeypatch.setattr(imap, "probe", probe)
        admin = make_admin(db)
        mailbox_id = make_mailbox(db, admin, imap_security=ImapSecurity.STARTTLS, imap_port=143)

        response = client.post(f"{URL}/{mailbox_id}/test", headers=admin.headers)

        assert response.json() == {"ok": True, "message": "Connected; 3 messages in INBOX."}
        [account] = seen
        assert (account.host, account.port, account.security) == (
            "imap.example.com",
            143,
            ImapSecurity.STARTTLS,
        )
        assert (account.username, account.password, account.timeout_seconds) == (
            "support",
            IMAP_PASSWORD,
            15.0,
        )

    def test_a_refused_login_is_an_answer_not_an_error(
        self, client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def refuse(account: ImapAccount) -> str:
            raise ImapError(imap.LOGIN_REFUSED)

        monkeypatch.setattr(imap, "probe", refuse)
        admin = make_admin(db)
        response = client.post(f"{URL}/{make_mailbox(db, admin)}/test", headers=admin.headers)
        assert response.status_code == 200
        assert response.json() == {"ok": False, "message": imap.LOGIN_REFUSED}

    def test_a_webhook_only_mailbox_has_nothing_to_test(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        response = client.post(f"{URL}/{make_mailbox(db, admin, imap_host='')}/test", headers=admin.headers)
        assert response.json()["ok"] is False
        assert "webhook" in response.json()["message"]

    def test_a_password_sealed_under_another_key_asks_for_it_again(
        self, client: TestClient, db: Database
    ) -> None:
        admin = make_admin(db)
        mailbox_id = make_mailbox(db, admin)
        set_mailbox(db, mailbox_id, imap_password_sealed="gAAAAABnot-a-valid-token")
        response = client.post(f"{URL}/{mailbox_id}/test", headers=admin.headers)
        assert response.status_code == 200
        assert response.json()["ok"] is False
        assert "enter it again" in response.json()["message"]

    def test_against_a_real_server(
        self, make_client: MakeClient, db: Database, dovecot: Dovecot, imap_user: ImapUser
    ) -> None:
        assert dovecot.tls_port is not None
        client = make_client(mail_ca_file=dovecot.ca_file)
        admin = make_admin(db)
        good = make_mailbox(
            db,
            admin,
            imap_host=dovecot.host,
            imap_port=dovecot.tls_port,
            imap_username=imap_user.name,
            imap_password=imap_user.password,
        )
        wrong = make_mailbox(
            db,
            admin,
            imap_host=dovecot.host,
            imap_port=dovecot.tls_port,
            imap_username=imap_user.name,
            imap_password="wrong-password",
        )
        assert client.post(f"{URL}/{good}/test", headers=admin.headers).json() == {
            "ok": True,
            "message": "Connected; 0 messages in INBOX.",
        }
        refused = client.post(f"{URL}/{wrong}/test", headers=admin.headers)
        assert refused.status_code == 200
        assert refused.json() == {"ok": False, "message": imap.LOGIN_REFUSED}

    def test_an_unknown_mailbox_is_a_404(self, client: TestClient, db: Database) -> None:
        expect_error(
            client.post(f"{URL}/99999/test", headers=make_admin(db).headers), 404, "mailbox_not_found"
        )


class TestPollNow:
    def test_the_next_poll_is_now(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        mailbox_id = make_mailbox(db, admin)
        set_mailbox(db, mailbox_id, next_poll_at=now() + timedelta(hours=1))

        response = client.post(f"{URL}/{mailbox_id}/poll", headers=admin.headers)

        assert response.status_code == 202, response.text
        row = mailbox_row(db, mailbox_id)
        assert row is not None
        assert row.next_poll_at <= now()


class TestWebhookSecret:
    def test_the_secret_is_shown_once_and_kept_as_a_hash(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        mailbox_id = make_mailbox(db, admin)

        response = client.post(f"{URL}/{mailbox_id}/webhook-secret", headers=admin.headers)

        assert response.status_code == 201, response.text
        assert response.headers["cache-control"] == "no-store"
        body = response.json()
        assert set(body) == {"secret", "url"}
        assert re.fullmatch(r"whsec_[\w-]{40,}", body["secret"])
        assert body["url"] == "http://127.0.0.1:8000/api/v1/mail/inbound"
        row = mailbox_row(db, mailbox_id)
        assert row is not None
        assert row.webhook_secret_hash == hashlib.sha256(body["secret"].encode()).hexdigest()
        view = client.get(f"{URL}/{mailbox_id}", headers=admin.headers)
        assert view.json()["webhookEnabled"] is True
        assert body["secret"] not in view.text
        assert row.webhook_secret_hash not in view.text

    def test_a_new_secret_replaces_the_old_one(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        mailbox_id = make_mailbox(db, admin)
        first = client.post(f"{URL}/{mailbox_id}/webhook-secret", headers=admin.headers).json()["secret"]
        second = client.post(f"{URL}/{mailbox_id}/webhook-secret", headers=admin.headers).json()["secret"]
        assert first != second
        row = mailbox_row(db, mailbox_id)
        assert row is not None
        assert row.webhook_secret_hash == hashlib.sha256(second.encode()).hexdigest()

    def test_delete_turns_the_webhook_off(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        mailbox_id = make_mailbox(db, admin)
        client.post(f"{URL}/{mailbox_id}/webhook-secret", headers=admin.headers)

        response = client.delete(f"{URL}/{mailbox_id}/webhook-secret", headers=admin.headers)

        assert response.status_code == 204
        assert client.get(f"{URL}/{mailbox_id}", headers=admin.headers).json()["webhookEnabled"] is False
        row = mailbox_row(db, mailbox_id)
        assert row is not None
        assert row.webhook_secret_hash is None


class TestOnlyAdmins:
    @pytest.mark.parametrize("maker", [make_agent, make_customer])
    def test_agents_and_customers_get_403_and_change_nothing(
        self, client: TestClient, db: Database, maker: Any
    ) -> None:
        admin, someone = make_admin(db), maker(db)
        mailbox_id = make_mailbox(db, admin)
        before = client.get(f"{URL}/{mailbox_id}", headers=admin.headers).json()
        path = f"{URL}/{mailbox_id}"
        body = {"name": "Mine", "address": "mine@help.example.com", "departmentId": department_id(db)}
        calls = [
            client.get(URL, headers=someone.headers),
            client.post(URL, json=body, headers=someone.headers),
            client.get(path, headers=someone.headers),
            client.patch(path, json={"name": "Mine"}, headers=someone.headers),
            client.post(f"{path}/test", headers=someone.headers),
            client.post(f"{path}/poll", headers=someone.headers),
            client.post(f"{path}/webhook-secret", headers=someone.headers),
            client.delete(f"{path}/webhook-secret", headers=someone.headers),
            client.delete(path, headers=someone.headers),
        ]
        assert [c.status_code for c in calls] == [403] * len(calls)
        assert all(set(c.json()) == {"error"} for c in calls)
        assert client.get(URL, headers=admin.headers).json()["data"] == [before]

    def test_signed_out_is_401(self, client: TestClient, db: Database) -> None:
        assert client.get(URL).status_code == 401
        assert client.post(f"{URL}/1/test").status_code == 401
