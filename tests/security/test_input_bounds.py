"""Hostile sizes and numbers: every one is a clear 4xx, never a 500, never a partial write."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Persona, make_admin, make_agent, make_customer, make_ticket
from ticketry.core.db import Database

HUGE = 10**20


def _is_client_error(response: Any) -> bool:
    return 400 <= response.status_code < 500 and "error" in response.json()


class TestPaging:
    @pytest.mark.parametrize(
        "query",
        [
            "page=100001",
            f"page={HUGE}",
            "page=0",
            "page=-1",
            "page=abc",
            "page=1e3",
            "page=1.5",
            "page_size=0",
            "page_size=101",
            f"page_size={HUGE}",
            "page_size=-5",
        ],
    )
    def test_out_of_range_page_is_a_422(self, client: TestClient, db: Database, query: str) -> None:
        customer = make_customer(db)
        response = client.get(f"/api/v1/tickets?{query}", headers=customer.headers)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "validation_error"

    def test_last_allowed_page_is_empty_not_slow_or_broken(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        make_ticket(db, customer)
        response = client.get("/api/v1/tickets?page=100000&page_size=100", headers=customer.headers)
        assert response.status_code == 200
        assert response.json()["data"] == []
        assert response.json()["pagination"]["total"] == 1


ID_PATHS = [
    "/api/v1/tickets/{id}",
    "/api/v1/tickets/{id}/replies",
    "/api/v1/tickets/{id}/history",
    "/api/v1/users/{id}",
    "/api/v1/organizations/{id}",
]
BAD_IDS = ["-1", "0", "1.5", "abc", "1e3", str(2**31), str(2**63), str(HUGE), "%00", "1%20OR%201=1", "0x10"]


class TestIds:
    @pytest.mark.parametrize("bad_id", BAD_IDS)
    @pytest.mark.parametrize("path", ID_PATHS)
    def test_negative_huge_or_non_integer_id_in_a_path_is_a_4xx(
        self, client: TestClient, db: Database, path: str, bad_id: str
    ) -> None:
        admin = make_admin(db)
        response = client.get(path.format(id=bad_id), headers=admin.headers)
        assert _is_client_error(response), (response.status_code, response.text)

    @pytest.mark.parametrize(
        ("path", "body"),
        [
            ("/api/v1/tickets/{id}/assign", {"assignedTo": -1}),
            ("/api/v1/tickets/{id}/assign", {"assignedTo": HUGE}),
            ("/api/v1/tickets/{id}/assign", {"assignedTo": "1; DROP TABLE users"}),
            ("/api/v1/tickets/{id}/transfer", {"toAgentId": HUGE}),
            ("/api/v1/tickets/bulk-update", {"ticketIds": [-1], "priority": "high"}),
            ("/api/v1/tickets/bulk-update", {"ticketIds": [HUGE], "priority": "high"}),
            ("/api/v1/tickets/bulk-update", {"ticketIds": [1], "assignedTo": HUGE}),
            ("/api/v1/tickets/bulk-update", {"ticketIds": [1], "department": HUGE}),
            ("/api/v1/tickets", {"title": "t", "description": "d", "customerId": HUGE}),
            ("/api/v1/tickets", {"title": "t", "description": "d", "department": HUGE}),
            ("/api/v1/tickets", {"title": "t", "description": "d", "department": str(HUGE)}),
            ("/api/v1/tickets", {"title": "t", "description": "d", "department": -3}),
            ("/api/v1/tickets", {"title": "t", "description": "d", "category": HUGE}),
            ("/api/v1/users", {"email": "x@example.test", "name": "X", "organizationId": HUGE}),
            (
                "/api/v1/users",
                {"email": "y@example.test", "name": "Y", "role": "agent", "departmentIds": [HUGE]},
            ),
        ],
    )
    def test_hostile_id_in_a_body_is_a_4xx(
        self, client: TestClient, db: Database, path: str, body: dict[str, Any]
    ) -> None:
        admin = make_admin(db)
        ticket = make_ticket(db, make_customer(db))
        response = client.post(path.format(id=ticket.id), json=body, headers=admin.headers)
        assert _is_client_error(response), (response.status_code, response.text)

    def test_hostile_version_is_a_4xx(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db, departments=("technical",))
        ticket = make_ticket(db, make_customer(db))
        for version in (-1, HUGE, "one"):
            response = client.patch(
                f"/api/v1/tickets/{ticket.id}",
                json={"title": "New", "version": version},
                headers=agent.headers,
            )
            assert _is_client_error(response), (version, response.text)
        for if_match in ('"abc"', f'"{HUGE}"', "W/", "*"):
            response = client.patch(
                f"/api/v1/tickets/{ticket.id}",
                json={"title": "New"},
                headers={**agent.headers, "If-Match": if_match},
            )
            assert _is_client_error(response), (if_match, response.text)


def _ticket_count(client: TestClient, admin: Persona) -> int:
    count: int = client.get("/api/v1/tickets", headers=admin.headers).json()["pagination"]["total"]
    return count


LONG = "x" * 100_001


class TestOversizeFields:
    @pytest.mark.parametrize(
        "body",
        [
            {"title": "t" * 201, "description": "d"},
            {"title": "t", "description": LONG},
            {"title": "t", "description": "d", "tags": ["a" * 51]},
            {"title": "t", "description": "d", "tags": [f"t{n}" for n in range(51)]},
            {"title": "t", "description": "d", "department": "d" * 10_000},
            {"title": "", "description": "d"},
            {"title": "   ", "description": "d"},
            {"title": "t", "description": ""},
        ],
    )
    def test_oversize_or_empty_ticket_field_is_a_422_and_creates_nothing(
        self, client: TestClient, db: Database, body: dict[str, Any]
    ) -> None:
        admin = make_admin(db)
        response = client.post("/api/v1/tickets", json=body, headers=admin.headers)
        assert response.status_code == 422, response.text
        assert _ticket_count(client, admin) == 0

    @pytest.mark.parametrize(
        ("path", "body"),
        [
            ("/api/v1/tickets/{id}/replies", {"message": LONG}),
            ("/api/v1/tickets/{id}/replies", {"message": "   "}),
            ("/api/v1/tickets/{id}/status", {"status": "on_hold", "reason": "r" * 2001}),
            ("/api/v1/tickets/{id}/close", {"reason": "r" * 2001}),
            ("/api/v1/tickets/{id}/transfer", {"toAgentId": 1, "note": "n" * 5001}),
            ("/api/v1/tickets/{id}", {"title": "t" * 201}),
            ("/api/v1/tickets/{id}", {"description": LONG}),
            ("/api/v1/tickets/{id}", {"tags": ["a" * 51]}),
        ],
    )
    def test_oversize_field_on_a_ticket_is_a_422_and_changes_nothing(
        self, client: TestClient, db: Database, path: str, body: dict[str, Any]
    ) -> None:
        admin = make_admin(db)
        ticket = make_ticket(db, make_customer(db))
        before = client.get(f"/api/v1/tickets/{ticket.id}", headers=admin.headers).json()
        method = "PATCH" if path == "/api/v1/tickets/{id}" else "PUT" if path.endswith("/status") else "POST"

        response = client.request(method, path.format(id=ticket.id), json=body, headers=admin.headers)

        assert response.status_code == 422, response.text
        after = client.get(f"/api/v1/tickets/{ticket.id}", headers=admin.headers).json()
        assert after["version"] == before["version"]
        replies = client.get(f"/api/v1/tickets/{ticket.id}/replies", headers=admin.headers).json()["data"]
        assert replies == []

    def test_oversize_bulk_update_is_a_422(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        body = {"ticketIds": list(range(1, 502)), "priority": "high"}
        assert client.post("/api/v1/tickets/bulk-update", json=body, headers=admin.headers).status_code == 422

    @pytest.mark.parametrize(
        "body",
        [
            {"email": "a" * 255, "password": "x"},
            {"email": "a@example.test", "password": "p" * 1001},
            {"email": "", "password": "x"},
        ],
    )
    def test_oversize_login_is_a_422(self, client: TestClient, db: Database, body: dict[str, str]) -> None:
        assert client.post("/api/v1/auth/login", json=body).status_code == 422

    def test_oversize_search_is_a_422(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        assert (
            client.get("/api/v1/tickets", params={"q": "q" * 201}, headers=customer.headers).status_code
            == 422
        )

    def test_oversize_token_name_is_a_422(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        response = client.post("/api/v1/users/me/tokens", json={"name": "n" * 101}, headers=customer.headers)
        assert response.status_code == 422

    @pytest.mark.parametrize(
        "raw",
        [b"{", b"[]", b"null", b'"title"', b"\xff\xfe", b'{"title": "t", "description": "d"' + b" " * 10],
    )
    def test_malformed_json_is_a_4xx(self, client: TestClient, db: Database, raw: bytes) -> None:
        customer = make_customer(db)
        response = client.post(
            "/api/v1/tickets", content=raw, headers={**customer.headers, "Content-Type": "application/json"}
        )
        assert _is_client_error(response), (response.status_code, response.text)

    def test_nul_character_is_refused_or_kept_never_a_500(self, client: TestClient, db: Database) -> None:
        """PostgreSQL cannot store NUL in text; either answer is fine, a 500 is not."""
        customer = make_customer(db)
        body = {"title": "Nul\x00byte", "description": "Before\x00after"}
        response = client.post("/api/v1/tickets", json=body, headers=customer.headers)
        assert response.status_code in (201, 422), response.text
