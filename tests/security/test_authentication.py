"""Attacks on signing in and on credentials: guessing, enumeration, stolen or stale tokens, CSRF."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.factories import (
    PASSWORD,
    Persona,
    expire_tokens,
    make_admin,
    make_customer,
    web_session,
)
from ticketry.core.config import get_settings
from ticketry.core.db import Database

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/users/me"


def _login(client: TestClient, email: str, password: str, **headers: str) -> int:
    return client.post(LOGIN, json={"email": email, "password": password}, headers=headers).status_code


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestPasswordGuessing:
    def test_guessing_one_accounts_password_is_throttled(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        limit = get_settings().login_max_failures_per_account
        assert [_login(client, customer.email, f"guess {n}") for n in range(limit)] == [401] * limit

        response = client.post(LOGIN, json={"email": customer.email, "password": PASSWORD})

        # Even the right password is refused until the window passes.
        assert response.status_code == 429
        assert response.json()["error"]["code"] == "too_many_requests"
        assert int(response.headers["Retry-After"]) > 0

    def test_spraying_many_accounts_from_one_address_is_throttled(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        limit = get_settings().login_max_failures_per_ip
        for n in range(limit):
            assert _login(client, f"nobody{n}@example.test", "Summer2026!") == 401

        response = client.post(LOGIN, json={"email": customer.email, "password": PASSWORD})

        assert response.status_code == 429
        assert int(response.headers["Retry-After"]) > 0

    def test_changing_the_email_case_does_not_reset_the_account_throttle(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        limit = get_settings().login_max_failures_per_account
        variants = [customer.email.upper(), customer.email.title(), f"  {customer.email}  "]
        for n in range(limit):
            assert _login(client, variants[n % len(variants)], f"guess {n}") == 401

        assert _login(client, customer.email, PASSWORD) == 429

    def test_forged_forwarded_for_header_does_not_reset_the_address_throttle(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        limit = get_settings().login_max_failures_per_ip
        for n in range(limit):
            assert _login(client, f"nobody{n}@example.test", "x", **{"X-Forwarded-For": f"10.0.0.{n}"}) == 401

        assert _login(client, customer.email, PASSWORD, **{"X-Forwarded-For": "10.9.9.9"}) == 429

    def test_successful_sign_in_within_the_limit_still_works(self, client: TestClient, db: Database) -> None:
        """Control: a few typos do not lock a person out."""
        customer = make_customer(db)
        limit = get_settings().login_max_failures_per_account
        for n in range(limit - 1):
            assert _login(client, customer.email, f"typo {n}") == 401
        assert _login(client, customer.email, PASSWORD) == 200


class TestUserEnumeration:
    def test_unknown_account_and_wrong_password_answer_alike(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        unknown = client.post(LOGIN, json={"email": "ghost@example.test", "password": "whatever1"})
        wrong = client.post(LOGIN, json={"email": customer.email, "password": "whatever1"})
        assert unknown.status_code == wrong.status_code == 401
        assert unknown.json() == wrong.json()
        assert unknown.headers.get("www-authenticate") == wrong.headers.get("www-authenticate")

    def test_disabled_account_with_the_right_password_answers_like_a_wrong_password(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        admin = make_admin(db)
        assert client.delete(f"/api/v1/users/{customer.id}", headers=admin.headers).status_code == 204
        disabled = client.post(LOGIN, json={"email": customer.email, "password": PASSWORD})
        unknown = client.post(LOGIN, json={"email": "ghost@example.test", "password": PASSWORD})
        assert disabled.status_code == unknown.status_code == 401
        assert disabled.json() == unknown.json()


class TestStolenOrStaleTokens:
    @pytest.mark.parametrize(
        "authorization",
        [
            "Bearer garbage",
            "Bearer tkt_",
            "Bearer tkt_" + "A" * 43,
            "Bearer " + "x" * 5000,
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "",
        ],
    )
    def test_garbage_token_is_refused(self, client: TestClient, db: Database, authorization: str) -> None:
        response = client.get(ME, headers={"Authorization": authorization})
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "not_authenticated"

    def test_token_with_one_character_changed_is_refused(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        flipped = customer.token[:-1] + ("A" if customer.token[-1] != "A" else "B")
        assert client.get(ME, headers=_bearer(flipped)).status_code == 401
        assert client.get(ME, headers=customer.headers).status_code == 200

    def test_revoked_token_is_refused(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        created = client.post(
            "/api/v1/users/me/tokens", json={"name": "laptop"}, headers=customer.headers
        ).json()
        assert client.get(ME, headers=_bearer(created["token"])).status_code == 200

        revoke = client.delete(f"/api/v1/users/me/tokens/{created['id']}", headers=customer.headers)

        assert revoke.status_code == 204
        assert client.get(ME, headers=_bearer(created["token"])).status_code == 401
        assert client.get(ME, headers=customer.headers).status_code == 200

    def test_logged_out_token_is_refused(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        token = client.post(LOGIN, json={"email": customer.email, "password": PASSWORD}).json()["token"]

        assert client.post("/api/v1/auth/logout", headers=_bearer(token)).status_code == 204

        assert client.get(ME, headers=_bearer(token)).status_code == 401

    def test_expired_token_is_refused(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        expire_tokens(db, customer)
        response = client.get(ME, headers=customer.headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"

    def test_revoking_someone_elses_token_is_refused(self, client: TestClient, db: Database) -> None:
        victim = make_customer(db)
        attacker = make_customer(db)
        victim_token = client.post(
            "/api/v1/users/me/tokens", json={"name": "ci"}, headers=victim.headers
        ).json()

        response = client.delete(f"/api/v1/users/me/tokens/{victim_token['id']}", headers=attacker.headers)

        assert response.status_code == 404
        assert client.get(ME, headers=_bearer(victim_token["token"])).status_code == 200

    def test_token_list_never_shows_a_secret(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        listed = client.get("/api/v1/users/me/tokens", headers=customer.headers)
        assert listed.status_code == 200
        assert customer.token not in listed.text
        assert all("token" not in t and "tokenHash" not in t for t in listed.json()["data"])

    def test_disabled_users_token_stops_working(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        admin = make_admin(db)
        assert client.get(ME, headers=customer.headers).status_code == 200

        assert client.delete(f"/api/v1/users/{customer.id}", headers=admin.headers).status_code == 204

        assert client.get(ME, headers=customer.headers).status_code == 401
        assert client.get("/api/v1/tickets", headers=customer.headers).status_code == 401


def _browser(client: TestClient, db: Database, persona: Persona) -> str:
    """Sign the test client's cookie jar in as the persona; returns the CSRF token."""
    cookie, csrf = web_session(db, persona)
    client.cookies.set("ticketry_session", cookie)
    return csrf


NEW_TICKET = {"title": "Made by a cookie", "description": "Hello"}


def _is_csrf_refusal(response: Response) -> bool:
    return response.status_code == 403 and "CSRF" in response.json()["error"]["message"]


class TestCrossSiteRequestForgery:
    def test_unsafe_request_with_session_cookie_and_no_csrf_header_is_refused(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        _browser(client, db, customer)

        response = client.post("/api/v1/tickets", json=NEW_TICKET)

        assert _is_csrf_refusal(response)
        assert client.get("/api/v1/tickets/my-tickets").json()["pagination"]["total"] == 0

    def test_unsafe_request_with_a_wrong_csrf_token_is_refused(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        csrf = _browser(client, db, customer)
        response = client.post("/api/v1/tickets", json=NEW_TICKET, headers={"X-CSRF-Token": csrf[::-1]})
        assert _is_csrf_refusal(response)

    def test_csrf_token_of_another_session_is_refused(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        attacker = make_customer(db)
        _, attackers_csrf = web_session(db, attacker)
        _browser(client, db, customer)
        response = client.post("/api/v1/tickets", json=NEW_TICKET, headers={"X-CSRF-Token": attackers_csrf})
        assert _is_csrf_refusal(response)

    @pytest.mark.parametrize("method", ["PATCH", "PUT"])
    def test_forged_ticket_edit_is_refused(self, client: TestClient, db: Database, method: str) -> None:
        customer = make_customer(db)
        csrf = _browser(client, db, customer)
        ticket = client.post("/api/v1/tickets", json=NEW_TICKET, headers={"X-CSRF-Token": csrf}).json()
        response = client.request(method, f"/api/v1/tickets/{ticket['id']}", json={"title": "Forged"})
        assert _is_csrf_refusal(response)
        assert client.get(f"/api/v1/tickets/{ticket['id']}").json()["title"] == NEW_TICKET["title"]

    def test_forged_token_revocation_is_refused(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        _browser(client, db, customer)
        [token] = client.get("/api/v1/users/me/tokens").json()["data"]
        response = client.delete(f"/api/v1/users/me/tokens/{token['id']}")
        assert _is_csrf_refusal(response)
        assert client.get(ME, headers=customer.headers).status_code == 200

    def test_same_site_request_with_the_right_token_works(self, client: TestClient, db: Database) -> None:
        """Control: the session itself is valid, so the 403s above are the CSRF check."""
        customer = make_customer(db)
        csrf = _browser(client, db, customer)
        assert client.get("/api/v1/users/me").status_code == 200
        assert (
            client.post("/api/v1/tickets", json=NEW_TICKET, headers={"X-CSRF-Token": csrf}).status_code == 201
        )

    def test_disabled_users_cookie_session_stops_working(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        admin = make_admin(db)
        _browser(client, db, customer)
        assert client.get(ME).status_code == 200

        assert client.delete(f"/api/v1/users/{customer.id}", headers=admin.headers).status_code == 204

        assert client.get(ME).status_code == 401
