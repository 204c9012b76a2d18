"""Signing in and out, the current user and personal API tokens (docs/product.md §4)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import PASSWORD, make_agent, make_customer

from ticketry.auth.models import ApiToken, LoginAttempt
from ticketry.core.db import Database


def login(client: TestClient, email: str, password: str = PASSWORD) -> dict[str, object]:
    response = client.post("/api/v1/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def bearer(token: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class TestLogin:
    def test_right_password_gives_a_working_token_and_the_user(
        self, client: TestClient, db: Database
    ) -> None:
        agent = make_agent(db)
        body = login(client, agent.email)
        assert set(body) == {"token", "user"}
        user = body["user"]
        assert isinstance(user, dict)
        assert user["id"] == agent.id
        assert user["email"] == agent.email
        assert user["role"] == "agent"
        assert user["lastLoginAt"] is not None
        assert "passwordHash" not in user and "password_hash" not in user
        me = client.get("/api/v1/users/me", headers=bearer(body["token"]))
        assert me.status_code == 200
        assert me.json()["id"] == agent.id

    def test_email_is_matched_case_insensitively(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        body = login(client, "  " + customer.email.upper() + " ")
        assert body["user"]["id"] == customer.id  # type: ignore[index]

    def test_wrong_password_and_unknown_user_get_identical_401(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        wrong = client.post("/api/v1/auth/login", json={"email": customer.email, "password": "nope-nope"})
        unknown = client.post(
            "/api/v1/auth/login", json={"email": "nobody@example.test", "password": "nope-nope"}
        )
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json()
        assert wrong.json()["error"]["code"] == "invalid_credentials"
        assert wrong.headers.get("www-authenticate") == unknown.headers.get("www-authenticate")

    def test_failed_attempts_are_recorded(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        client.post("/api/v1/auth/login", json={"email": customer.email, "password": "wrong-one"})
        with db.unit_of_work(write=False) as session:
            attempts = list(session.scalars(select(LoginAttempt)))
        assert [(a.account, a.succeeded) for a in attempts] == [(customer.email, False)]

    def test_deactivated_user_cannot_log_in(self, client: TestClient, db: Database) -> None:
        from tests.factories import make_admin

        admin = make_admin(db)
        agent = make_agent(db)
        assert client.delete(f"/api/v1/users/{agent.id}", headers=admin.headers).status_code == 204
        response = client.post("/api/v1/auth/login", json={"email": agent.email, "password": PASSWORD})
        assert response.status_code == 401
        assert client.get("/api/v1/users/me", headers=agent.headers).status_code == 401

    def test_missing_fields_give_422_envelope(self, client: TestClient) -> None:
        response = client.post("/api/v1/auth/login", json={"email": "a@example.test"})
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "validation_error"
        assert any(item["field"] == "password" for item in error["details"]["errors"])


class TestLogout:
    def test_logout_revokes_the_token_it_was_called_with(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        token = login(client, customer.email)["token"]
        response = client.post("/api/v1/auth/logout", headers=bearer(token))
        assert response.status_code == 204
        after = client.get("/api/v1/users/me", headers=bearer(token))
        assert after.status_code == 401
        assert after.json()["error"]["code"] == "not_authenticated"

    def test_logout_leaves_other_tokens_working(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        token = login(client, customer.email)["token"]
        client.post("/api/v1/auth/logout", headers=bearer(token))
        assert client.get("/api/v1/users/me", headers=customer.headers).status_code == 200

    def test_logout_without_credentials_is_401(self, client: TestClient) -> None:
        assert client.post("/api/v1/auth/logout").status_code == 401


class TestCurrentUser:
    def test_me_in_camel_case(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db, departments=("technical", "billing"))
        response = client.get("/api/v1/users/me", headers=agent.headers)
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == agent.id
        assert body["email"] == agent.email
        assert body["role"] == "agent"
        assert body["isActive"] is True
        assert len(body["departmentIds"]) == 2
        assert "organizationId" in body
        assert "createdAt" in body

    def test_no_credentials_is_401_with_envelope(self, client: TestClient) -> None:
        response = client.get("/api/v1/users/me")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"
        assert response.headers["www-authenticate"] == "Bearer"

    def test_garbage_token_is_401(self, client: TestClient) -> None:
        response = client.get("/api/v1/users/me", headers=bearer("tkt_not-a-real-token"))
        assert response.status_code == 401
        assert set(response.json()["error"]) == {"code", "message", "details"}


class TestPersonalTokens:
    def test_created_token_is_shown_once_and_works(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        response = client.post("/api/v1/users/me/tokens", json={"name": "ci"}, headers=agent.headers)
        assert response.status_code == 201
        created = response.json()
        secret = created["token"]
        assert secret.startswith("tkt_")
        assert created["prefix"] == secret[:10]
        assert created["name"] == "ci"
        me = client.get("/api/v1/users/me", headers=bearer(secret))
        assert me.status_code == 200
        assert me.json()["id"] == agent.id
        with db.unit_of_work(write=False) as session:
            stored = session.get(ApiToken, created["id"])
            assert stored is not None
            assert secret not in (stored.token_hash, stored.prefix)

    def test_list_shows_tokens_without_their_secret(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        secret = client.post("/api/v1/users/me/tokens", json={"name": "ci"}, headers=agent.headers).json()[
            "token"
        ]
        response = client.get("/api/v1/users/me/tokens", headers=agent.headers)
        assert response.status_code == 200
        tokens = response.json()["data"]
        assert [t["name"] for t in tokens] == ["tests", "ci"]
        for token in tokens:
            assert "token" not in token
            assert "tokenHash" not in token
            assert set(token) == {"id", "name", "prefix", "scope", "createdAt", "lastUsedAt", "expiresAt"}
        assert secret not in response.text

    def test_list_shows_only_my_tokens(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        other = make_agent(db)
        client.post("/api/v1/users/me/tokens", json={"name": "theirs"}, headers=other.headers)
        names = [
            t["name"] for t in client.get("/api/v1/users/me/tokens", headers=agent.headers).json()["data"]
        ]
        assert names == ["tests"]

    def test_revoked_token_is_401_and_unlisted(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        created = client.post("/api/v1/users/me/tokens", json={"name": "ci"}, headers=agent.headers).json()
        response = client.delete(f"/api/v1/users/me/tokens/{created['id']}", headers=agent.headers)
        assert response.status_code == 204
        assert client.get("/api/v1/users/me", headers=bearer(created["token"])).status_code == 401
        names = [
            t["name"] for t in client.get("/api/v1/users/me/tokens", headers=agent.headers).json()["data"]
        ]
        assert names == ["tests"]

    def test_revoking_twice_is_404(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        created = client.post("/api/v1/users/me/tokens", json={"name": "ci"}, headers=agent.headers).json()
        client.delete(f"/api/v1/users/me/tokens/{created['id']}", headers=agent.headers)
        again = client.delete(f"/api/v1/users/me/tokens/{created['id']}", headers=agent.headers)
        assert again.status_code == 404
        assert again.json()["error"]["code"] == "token_not_found"

    def test_cannot_revoke_someone_elses_token(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        other = make_agent(db)
        theirs = client.post("/api/v1/users/me/tokens", json={"name": "x"}, headers=other.headers).json()
        response = client.delete(f"/api/v1/users/me/tokens/{theirs['id']}", headers=agent.headers)
        assert response.status_code == 404
        assert client.get("/api/v1/users/me", headers=bearer(theirs["token"])).status_code == 200

    def test_token_name_is_required(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        response = client.post("/api/v1/users/me/tokens", json={"name": ""}, headers=agent.headers)
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "validation_error"
