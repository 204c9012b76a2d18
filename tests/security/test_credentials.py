"""Credentials that outlive the facts they were issued on (issue 12 item 5, CWE-613 insufficient
session expiration), tokens that can do more than they need to (CWE-250 / least privilege),
account lock-out anybody can trigger (CWE-645 overly restrictive account lockout), and client
addresses anybody can choose (CWE-348 use of a less trusted source)."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from starlette.requests import Request

from tests.factories import PASSWORD, Persona, make_admin, make_agent, make_customer, web_session
from ticketry.app import create_app
from ticketry.auth import mail as account_mail
from ticketry.auth import service as auth_service
from ticketry.auth.models import ApiToken, OneTimeToken, WebSession
from ticketry.core.clock import now
from ticketry.core.config import Settings, get_settings
from ticketry.core.db import Database
from ticketry.http.deps import client_ip

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/users/me"
TOKENS = "/api/v1/users/me/tokens"
SESSIONS = "/api/v1/users/me/sessions"
NEW_PASSWORD = "a brand new passphrase"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_works(client: TestClient, token: str) -> bool:
    return client.get(ME, headers=bearer(token)).status_code == 200


def cookie_works(client: TestClient, cookie: str) -> bool:
    """Leaves the client signed in with `cookie` (whether it works or not)."""
    client.cookies.clear()
    client.cookies.set("ticketry_session", cookie)
    return client.get(ME).status_code == 200


def new_token(client: TestClient, persona: Persona, **body: object) -> dict[str, str]:
    response = client.post(TOKENS, json={"name": "script", **body}, headers=persona.headers)
    assert response.status_code == 201, response.text
    created: dict[str, str] = response.json()
    return created


def mailed_link(db: Database, persona: Persona, purpose: str) -> str:
    """A reset or verification link as if it had been mailed: its secret."""
    secret = secrets.token_urlsafe(32)
    with db.unit_of_work() as session:
        session.add(
            OneTimeToken(
                user_id=persona.id,
                purpose=purpose,
                token_hash=hashlib.sha256(secret.encode()).hexdigest(),
                expires_at=now() + timedelta(hours=1),
            )
        )
    return secret


def reset_link_works(client: TestClient, secret: str) -> bool:
    response = client.get(f"/password/reset?token={secret}")
    return response.status_code == 200


class TestOwnPasswordChange:
    def test_in_the_browser_ends_other_sessions_and_every_token_but_keeps_this_browser(
        self, client: TestClient, db: Database
    ) -> None:
        """Before: a stolen API token (and a stolen cookie's session minting new ones) survived."""
        customer = make_customer(db)
        script = new_token(client, customer)["token"]
        stolen_cookie, _ = web_session(db, customer)
        here, csrf = web_session(db, customer)

        client.cookies.set("ticketry_session", here)
        response = client.post(
            "/account/password",
            data={"current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": csrf},
            follow_redirects=False,
        )

        assert response.status_code == 303
        assert not token_works(client, customer.token)
        assert not token_works(client, script)
        assert not cookie_works(client, stolen_cookie)
        assert cookie_works(client, here)

    def test_a_surviving_stolen_session_cannot_mint_a_token_afterwards(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        stolen_cookie, stolen_csrf = web_session(db, customer)
        assert (
            client.post(
                "/api/v1/users/me/password",
                json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
                headers=customer.headers,
            ).status_code
            == 204
        )

        client.cookies.set("ticketry_session", stolen_cookie)
        minted = client.post(TOKENS, json={"name": "backdoor"}, headers={"X-CSRF-Token": stolen_csrf})

        assert minted.status_code == 401
        with db.unit_of_work(write=False) as session:
            names = session.scalars(select(ApiToken.name).where(ApiToken.user_id == customer.id))
            assert "backdoor" not in list(names)

    def test_through_the_api_keeps_only_the_token_the_change_was_made_with(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        other = new_token(client, customer)["token"]
        browser, _ = web_session(db, customer)

        response = client.post(
            "/api/v1/users/me/password",
            json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
            headers=customer.headers,
        )

        assert response.status_code == 204
        assert token_works(client, customer.token)
        assert not token_works(client, other)
        assert not cookie_works(client, browser)
        assert client.post(LOGIN, json={"email": customer.email, "password": NEW_PASSWORD}).status_code == 200

    def test_a_wrong_current_password_changes_and_revokes_nothing(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        other = new_token(client, customer)["token"]

        response = client.post(
            "/api/v1/users/me/password",
            json={"currentPassword": "not it", "newPassword": NEW_PASSWORD},
            headers=customer.headers,
        )

        assert (response.status_code, response.json()["error"]["code"]) == (422, "wrong_password")
        assert token_works(client, other)
        assert client.post(LOGIN, json={"email": customer.email, "password": PASSWORD}).status_code == 200

    def test_a_reset_link_mailed_before_the_change_is_dead_after_it(
        self, client: TestClient, db: Database
    ) -> None:
        """The reset link in a mailbox someone else reads must not undo the change."""
        customer = make_customer(db)
        reset = mailed_link(db, customer, account_mail.PASSWORD_RESET)
        verification = mailed_link(db, customer, account_mail.EMAIL_VERIFICATION)
        assert reset_link_works(client, reset)

        client.post(
            "/api/v1/users/me/password",
            json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
            headers=customer.headers,
        )

        assert not reset_link_works(client, reset)
        confirm = client.post(
            "/api/v1/auth/password-reset/confirm", json={"token": reset, "password": "attacker's choice"}
        )
        assert (confirm.status_code, confirm.json()["error"]["code"]) == (400, "invalid_token")
        assert client.post("/api/v1/auth/verify-email", json={"token": verification}).status_code == 400

    def test_a_password_reset_by_link_revokes_the_other_links_too(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        reset = mailed_link(db, customer, account_mail.PASSWORD_RESET)
        verification = mailed_link(db, customer, account_mail.EMAIL_VERIFICATION)

        confirmed = client.post(
            "/api/v1/auth/password-reset/confirm", json={"token": reset, "password": NEW_PASSWORD}
        )

        assert confirmed.status_code == 204
        assert not token_works(client, customer.token)
        assert client.post("/api/v1/auth/verify-email", json={"token": verification}).status_code == 400


class TestAdminChanges:
    @pytest.mark.parametrize(
        "change",
        [{"password": NEW_PASSWORD}, {"email": "moved@example.test"}, {"role": "agent"}, {"isActive": False}],
        ids=["password", "email", "role", "disable"],
    )
    def test_revokes_every_session_token_and_link_of_the_user(
        self, client: TestClient, db: Database, change: dict[str, object]
    ) -> None:
        customer = make_customer(db)
        admin = make_admin(db)
        cookie, _ = web_session(db, customer)
        reset = mailed_link(db, customer, account_mail.PASSWORD_RESET)

        response = client.patch(f"/api/v1/users/{customer.id}", json=change, headers=admin.headers)

        assert response.status_code == 200, response.text
        assert not token_works(client, customer.token)
        assert not cookie_works(client, cookie)
        assert not reset_link_works(client, reset)
        assert token_works(client, admin.token)

    def test_a_new_name_revokes_nothing(self, client: TestClient, db: Database) -> None:
        """Control: only changes to what the credentials stand for revoke them."""
        customer = make_customer(db)
        admin = make_admin(db)
        cookie, _ = web_session(db, customer)

        response = client.patch(
            f"/api/v1/users/{customer.id}",
            json={"name": "Renamed", "role": "customer"},
            headers=admin.headers,
        )

        assert response.status_code == 200
        assert token_works(client, customer.token)
        assert cookie_works(client, cookie)

    def test_enabling_a_disabled_user_again_revives_no_old_credential(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        admin = make_admin(db)
        cookie, _ = web_session(db, customer)
        assert client.delete(f"/api/v1/users/{customer.id}", headers=admin.headers).status_code == 204

        enabled = client.patch(f"/api/v1/users/{customer.id}", json={"isActive": True}, headers=admin.headers)

        assert enabled.status_code == 200
        assert not token_works(client, customer.token)
        assert not cookie_works(client, cookie)
        # The person signs in anew.
        assert client.post(LOGIN, json={"email": customer.email, "password": PASSWORD}).status_code == 200

    def test_the_web_password_reset_by_an_admin_revokes_too(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        admin = make_admin(db)
        agent_cookie, _ = web_session(db, agent)
        admin_cookie, csrf = web_session(db, admin)

        client.cookies.set("ticketry_session", admin_cookie)
        response = client.post(
            f"/admin/users/{agent.id}/password",
            data={"password": NEW_PASSWORD, "csrf_token": csrf},
            follow_redirects=False,
        )

        assert response.status_code == 303
        assert not token_works(client, agent.token)
        assert not cookie_works(client, agent_cookie)
        assert cookie_works(client, admin_cookie)

    def test_an_admin_changing_their_own_password_keeps_the_credential_they_used(
        self, client: TestClient, db: Database
    ) -> None:
        admin = make_admin(db)
        other = new_token(client, admin)["token"]

        response = client.patch(
            f"/api/v1/users/{admin.id}", json={"password": NEW_PASSWORD}, headers=admin.headers
        )

        assert response.status_code == 200
        assert token_works(client, admin.token)
        assert not token_works(client, other)


class TestTokenScopes:
    @pytest.mark.parametrize(
        ("method", "path", "body"),
        [
            ("POST", "/api/v1/tickets", {"title": "Made by a read token", "description": "x"}),
            ("POST", TOKENS, {"name": "escalate", "scope": "full"}),
            ("POST", "/api/v1/auth/sign-out-everywhere", None),
            ("PUT", "/api/v1/users/me/notifications", {"ticketReceived": False}),
        ],
    )
    def test_a_read_only_token_cannot_change_anything(
        self, client: TestClient, db: Database, method: str, path: str, body: object
    ) -> None:
        customer = make_customer(db)
        read = new_token(client, customer, scope="read")["token"]

        response = client.request(method, path, json=body, headers=bearer(read))

        assert response.status_code == 403
        error = response.json()["error"]
        assert error["code"] == "insufficient_scope"
        assert set(error) == {"code", "message", "details"}
        assert client.get("/api/v1/tickets", headers=customer.headers).json()["pagination"]["total"] == 0
        assert [t["name"] for t in client.get(TOKENS, headers=customer.headers).json()["data"]] == [
            "tests",
            "script",
        ]
        assert token_works(client, read)

    def test_a_read_only_token_reads(self, client: TestClient, db: Database) -> None:
        """Control: the refusals above are about the scope, not a broken token."""
        customer = make_customer(db)
        read = new_token(client, customer, scope="read")
        assert read["scope"] == "read"
        assert client.get("/api/v1/tickets", headers=bearer(read["token"])).status_code == 200
        assert client.get(TOKENS, headers=bearer(read["token"])).status_code == 200

    def test_tokens_have_full_scope_unless_asked_and_show_it(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        full = new_token(client, customer)
        assert full["scope"] == "full"
        ticket = client.post(
            "/api/v1/tickets", json={"title": "Full", "description": "x"}, headers=bearer(full["token"])
        )
        assert ticket.status_code == 201
        listed = client.get(TOKENS, headers=customer.headers).json()["data"]
        assert {t["name"]: t["scope"] for t in listed} == {"tests": "full", "script": "full"}

    @pytest.mark.parametrize("body", [{"scope": "admin"}, {"expiresInDays": 0}, {"expiresInDays": 3651}])
    def test_a_bad_scope_or_lifetime_is_422_and_creates_nothing(
        self, client: TestClient, db: Database, body: dict[str, object]
    ) -> None:
        customer = make_customer(db)
        response = client.post(TOKENS, json={"name": "x", **body}, headers=customer.headers)
        assert (response.status_code, response.json()["error"]["code"]) == (422, "validation_error")
        assert len(client.get(TOKENS, headers=customer.headers).json()["data"]) == 1


class TestTokenExpiry:
    def test_a_token_made_to_expire_stops_working_when_it_does(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        created = new_token(client, customer, expiresInDays=7)
        expires = created["expiresAt"]
        assert expires is not None
        assert token_works(client, created["token"])

        with db.unit_of_work() as session:
            session.execute(
                update(ApiToken)
                .where(ApiToken.id == created["id"])
                .values(expires_at=now() - timedelta(seconds=1))
            )

        response = client.get(ME, headers=bearer(created["token"]))
        assert (response.status_code, response.json()["error"]["code"]) == (401, "not_authenticated")

    def test_the_lifetime_is_what_was_asked(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        created = new_token(client, customer, expiresInDays=30)
        with db.unit_of_work(write=False) as session:
            token = session.get(ApiToken, created["id"])
            assert token is not None and token.expires_at is not None
            assert abs(token.expires_at - (now() + timedelta(days=30))) < timedelta(minutes=1)

    def test_a_login_token_lives_as_long_as_a_browser_session(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        client.post(LOGIN, json={"email": customer.email, "password": PASSWORD})
        with db.unit_of_work(write=False) as session:
            token = session.scalars(select(ApiToken).where(ApiToken.name == "login")).one()
        assert token.expires_at is not None
        days = get_settings().session_days
        assert abs(token.expires_at - (now() + timedelta(days=days))) < timedelta(minutes=1)


class TestSignOutEverywhere:
    def test_through_the_api_ends_every_session_and_token_the_calling_one_too(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        other = new_token(client, customer)["token"]
        cookie, _ = web_session(db, customer)

        response = client.post("/api/v1/auth/sign-out-everywhere", headers=customer.headers)

        assert response.status_code == 204
        assert not token_works(client, customer.token)
        assert not token_works(client, other)
        assert not cookie_works(client, cookie)

    def test_the_button_signs_this_browser_out_too(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        elsewhere, _ = web_session(db, customer)
        here, csrf = web_session(db, customer)
        client.cookies.set("ticketry_session", here)

        response = client.post(
            "/account/sign-out-everywhere", data={"csrf_token": csrf}, follow_redirects=False
        )

        assert (response.status_code, response.headers["location"]) == (303, "/login")
        assert not cookie_works(client, here)
        assert not cookie_works(client, elsewhere)
        assert not token_works(client, customer.token)

    def test_a_forged_request_without_the_csrf_token_does_nothing(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        here, _ = web_session(db, customer)
        client.cookies.set("ticketry_session", here)

        client.post("/account/sign-out-everywhere", data={"csrf_token": "forged"}, follow_redirects=False)

        assert cookie_works(client, here)
        assert token_works(client, customer.token)


class TestSessionList:
    def test_lists_my_live_sessions_with_browser_address_and_which_is_this_one(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        stranger = make_customer(db)
        web_session(db, stranger)
        elsewhere, _ = web_session(db, customer)
        gone, _ = web_session(db, customer)
        auth_service_revoke(db, gone)
        here, csrf = web_session(db, customer)
        with db.unit_of_work() as session:
            session.execute(
                update(WebSession)
                .where(WebSession.session_hash == digest(elsewhere))
                .values(user_agent="Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", ip="203.0.113.9")
            )

        client.cookies.set("ticketry_session", here)
        listed = client.get(SESSIONS).json()["data"]

        assert len(listed) == 2
        assert [s["current"] for s in listed] == [True, False]
        assert listed[1]["userAgent"].endswith("Firefox/128.0")
        assert listed[1]["ip"] == "203.0.113.9"
        assert set(listed[0]) == {"id", "createdAt", "lastUsedAt", "expiresAt", "userAgent", "ip", "current"}

        revoked = client.delete(f"{SESSIONS}/{listed[1]['id']}", headers={"X-CSRF-Token": csrf})
        assert revoked.status_code == 204
        assert not cookie_works(client, elsewhere)

    def test_someone_elses_session_cannot_be_ended(self, client: TestClient, db: Database) -> None:
        victim = make_customer(db)
        attacker = make_customer(db)
        cookie, _ = web_session(db, victim)
        with db.unit_of_work(write=False) as session:
            victim_session = session.scalars(
                select(WebSession.id).where(WebSession.user_id == victim.id)
            ).one()

        response = client.delete(f"{SESSIONS}/{victim_session}", headers=attacker.headers)

        assert (response.status_code, response.json()["error"]["code"]) == (404, "session_not_found")
        assert cookie_works(client, cookie)

    def test_signing_in_records_browser_and_address(self, db: Database, settings: Settings) -> None:
        customer = make_customer(db)
        with client_at(db, settings, "198.51.100.7") as browser:
            form = browser.get("/login")
            token = form.cookies.get("ticketry_pre_csrf") or browser.cookies.get("ticketry_pre_csrf")
            signed_in = browser.post(
                "/login",
                data={"email": customer.email, "password": PASSWORD, "csrf_token": token},
                headers={"User-Agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/126.0 Safari/537.36"},
                follow_redirects=False,
            )
            assert signed_in.status_code == 303
            [row] = browser.get(SESSIONS).json()["data"]
            page = browser.get("/account/security").text
        assert (row["ip"], row["current"]) == ("198.51.100.7", True)
        assert "Chrome on Windows" in page

    def test_last_use_is_buffered_not_written_by_each_request(self, client: TestClient, db: Database) -> None:
        """A request costs no write for "last used"; the scheduler writes it every few seconds."""
        customer = make_customer(db)
        cookie, _ = web_session(db, customer)
        earlier = now() - timedelta(hours=3)
        with db.unit_of_work() as session:
            session.execute(update(WebSession).values(last_used_at=earlier))

        assert cookie_works(client, cookie)
        with db.unit_of_work(write=False) as session:
            assert session.scalars(select(WebSession.last_used_at)).one() == earlier
        with db.unit_of_work() as session:
            auth_service.flush_token_usage(session)
        with db.unit_of_work(write=False) as session:
            last_used = session.scalars(select(WebSession.last_used_at)).one()
        assert last_used is not None and last_used > earlier


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def auth_service_revoke(db: Database, cookie: str) -> None:
    with db.unit_of_work() as session:
        auth_service.end_web_session(session, cookie)


@contextmanager
def client_at(db: Database, settings: Settings, address: str) -> Iterator[TestClient]:
    """The app as seen from a given client address (the direct peer of the connection)."""
    app = create_app(settings, db=db, background=False)
    with TestClient(app, raise_server_exceptions=False, client=(address, 40000)) as client:
        yield client


def failed_logins(client: TestClient, email: str, count: int, **headers: str) -> list[int]:
    return [
        client.post(LOGIN, json={"email": email, "password": f"guess {n}"}, headers=headers).status_code
        for n in range(count)
    ]


class TestLockout:
    def test_guessing_from_one_address_does_not_lock_the_owner_out_elsewhere(
        self, db: Database, settings: Settings
    ) -> None:
        """Before: five bad passwords from anywhere locked the admin out for 15 minutes."""
        admin = make_admin(db)
        limit = get_settings().login_max_failures_per_account
        with client_at(db, settings, "203.0.113.66") as attacker:
            assert failed_logins(attacker, admin.email, limit) == [401] * limit
            locked = attacker.post(LOGIN, json={"email": admin.email, "password": PASSWORD})
            assert locked.status_code == 429
            assert int(locked.headers["Retry-After"]) > 0
        with client_at(db, settings, "198.51.100.20") as owner:
            assert owner.post(LOGIN, json={"email": admin.email, "password": PASSWORD}).status_code == 200

    def test_one_address_spraying_many_accounts_is_still_limited(
        self, db: Database, settings: Settings
    ) -> None:
        customer = make_customer(db)
        limit = get_settings().login_max_failures_per_ip
        with client_at(db, settings, "203.0.113.67") as attacker:
            for n in range(limit):
                assert failed_logins(attacker, f"nobody{n}@example.test", 1) == [401]
            assert (
                attacker.post(LOGIN, json={"email": customer.email, "password": PASSWORD}).status_code == 429
            )


@pytest.fixture
def trusted_proxies(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    value = "10.0.0.0/8, 2001:db8::1"
    monkeypatch.setenv("TICKETRY_TRUSTED_PROXIES", value)
    get_settings.cache_clear()
    yield value
    monkeypatch.undo()
    get_settings.cache_clear()


def request_from(peer: str, forwarded: str | None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers, "client": (peer, 1)})


class TestClientAddress:
    @pytest.mark.parametrize(
        ("peer", "forwarded", "expected"),
        [
            ("203.0.113.5", "1.2.3.4", "203.0.113.5"),  # not a proxy: the header is the client's word
            ("10.0.0.1", "1.2.3.4", "1.2.3.4"),
            ("10.0.0.1", "9.9.9.9, 1.2.3.4", "1.2.3.4"),  # the client wrote 9.9.9.9 itself
            ("10.0.0.1", "9.9.9.9, 1.2.3.4, 10.0.0.7", "1.2.3.4"),  # two proxies
            ("10.0.0.1", "10.0.0.9", "10.0.0.9"),  # only proxies: the farthest
            ("10.0.0.1", None, "10.0.0.1"),
            ("10.0.0.1", "", "10.0.0.1"),
            ("2001:db8::1", "2001:db8::42", "2001:db8::42"),
            ("10.0.0.1", "not-an-address", "not-an-address"),
        ],
    )
    def test_the_right_most_address_that_is_not_a_trusted_proxy(
        self, trusted_proxies: str, peer: str, forwarded: str | None, expected: str
    ) -> None:
        assert client_ip(request_from(peer, forwarded)) == expected

    def test_without_trusted_proxies_the_header_is_ignored(self) -> None:
        get_settings.cache_clear()
        assert client_ip(request_from("10.0.0.1", "1.2.3.4")) == "10.0.0.1"

    def test_behind_a_trusted_proxy_an_attacker_locks_only_their_own_address(
        self, db: Database, settings: Settings, trusted_proxies: str
    ) -> None:
        admin = make_admin(db)
        behind = settings.model_copy(update={"trusted_proxies": trusted_proxies})
        limit = behind.login_max_failures_per_account
        with client_at(db, behind, "10.0.0.1") as proxy:
            spoof = {"X-Forwarded-For": "198.51.100.20, 203.0.113.66"}  # claims to be the owner
            assert failed_logins(proxy, admin.email, limit, **spoof) == [401] * limit
            assert (
                proxy.post(
                    LOGIN, json={"email": admin.email, "password": PASSWORD}, headers=spoof
                ).status_code
                == 429
            )
            owner = {"X-Forwarded-For": "198.51.100.20"}
            assert (
                proxy.post(
                    LOGIN, json={"email": admin.email, "password": PASSWORD}, headers=owner
                ).status_code
                == 200
            )

    def test_a_malformed_proxy_list_stops_the_start(self) -> None:
        with pytest.raises(ValueError, match="does not appear to be an IPv4 or IPv6 network"):
            Settings(trusted_proxies="10.0.0.0/33")
