"""Admin CRUD over `/users`, `/organizations`, `/departments` and `/categories`
(docs/product.md §1 "admin")."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.factories import (
    PASSWORD,
    Persona,
    api_ticket,
    make_admin,
    make_agent,
    make_customer,
    make_organization,
)

from ticketry.core.db import Database


def expect_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == code
    return error


def department_id(client: TestClient, persona: Persona, slug: str) -> int:
    for department in client.get("/api/v1/departments", headers=persona.headers).json()["data"]:
        if department["slug"] == slug:
            return int(department["id"])
    raise AssertionError(slug)


NEW_USER = {"email": "New.Person@Example.com", "name": "New Person", "password": "long enough pass"}


class TestListUsers:
    def test_envelope_with_pagination_and_filters(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        make_agent(db)
        customer = make_customer(db)
        response = client.get("/api/v1/users", params={"page_size": 2}, headers=admin.headers)
        assert response.status_code == 200
        body = response.json()
        assert body["pagination"] == {
            "total": 3,
            "page": 1,
            "pageSize": 2,
            "totalPages": 2,
            "totalCapped": False,
        }
        assert len(body["data"]) == 2
        customers = client.get("/api/v1/users", params={"role": "customer"}, headers=admin.headers).json()
        assert [u["id"] for u in customers["data"]] == [customer.id]
        found = client.get("/api/v1/users", params={"q": customer.email[:9]}, headers=admin.headers).json()
        assert [u["id"] for u in found["data"]] == [customer.id]

    @pytest.mark.parametrize("maker", [make_agent, make_customer])
    def test_non_admin_is_403(self, client: TestClient, db: Database, maker: Any) -> None:
        expect_error(client.get("/api/v1/users", headers=maker(db).headers), 403, "forbidden")


class TestCreateUser:
    def test_admin_creates_an_agent_in_departments(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        billing = department_id(client, admin, "billing")
        response = client.post(
            "/api/v1/users",
            json={**NEW_USER, "role": "agent", "departmentIds": [billing]},
            headers=admin.headers,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["email"] == "new.person@example.com"
        assert body["role"] == "agent"
        assert body["departmentIds"] == [billing]
        assert body["isActive"] is True
        assert "password" not in body and "passwordHash" not in body
        login = client.post(
            "/api/v1/auth/login", json={"email": "new.person@example.com", "password": NEW_USER["password"]}
        )
        assert login.status_code == 200
        fetched = client.get(f"/api/v1/users/{body['id']}", headers=admin.headers).json()
        assert fetched["lastLoginAt"] is not None
        assert {**fetched, "lastLoginAt": None} == body

    def test_snake_case_and_defaults(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        organization = make_organization(db, shared=True)
        response = client.post(
            "/api/v1/users",
            json={"email": "c@example.com", "name": "C", "organization_id": organization},
            headers=admin.headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["role"] == "customer"
        assert response.json()["organizationId"] == organization

    def test_duplicate_email_is_409(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        first = client.post(
            "/api/v1/users", json={"email": "dup@example.com", "name": "A"}, headers=admin.headers
        )
        assert first.status_code == 201
        response = client.post(
            "/api/v1/users", json={"email": "DUP@example.com", "name": "B"}, headers=admin.headers
        )
        expect_error(response, 409, "email_taken")

    @pytest.mark.parametrize(
        "body",
        [
            {"email": "not-an-email", "name": "X"},
            {"email": "x@example.com", "name": ""},
            {"email": "x@example.com", "name": "X", "role": "superuser"},
            {"email": "x@example.com", "name": "X", "password": "short"},
        ],
        ids=["email", "name", "role", "short-password"],
    )
    def test_bad_input_is_422(self, client: TestClient, db: Database, body: dict[str, object]) -> None:
        response = client.post("/api/v1/users", json=body, headers=make_admin(db).headers)
        expect_error(response, 422, "validation_error")

    def test_unknown_department_is_refused(self, client: TestClient, db: Database) -> None:
        response = client.post(
            "/api/v1/users",
            json={**NEW_USER, "role": "agent", "departmentIds": [4242]},
            headers=make_admin(db).headers,
        )
        assert response.status_code in (404, 422), response.text
        assert response.json()["error"]["code"] == "department_not_found"

    def test_agent_cannot_create_users(self, client: TestClient, db: Database) -> None:
        response = client.post(
            "/api/v1/users", json={**NEW_USER, "role": "admin"}, headers=make_agent(db).headers
        )
        expect_error(response, 403, "forbidden")


class TestUpdateUser:
    def test_admin_changes_name_role_and_departments(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        customer = make_customer(db)
        sales = department_id(client, admin, "sales")
        response = client.patch(
            f"/api/v1/users/{customer.id}",
            json={"name": "Promoted", "role": "agent", "departmentIds": [sales]},
            headers=admin.headers,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["name"], body["role"], body["departmentIds"]) == ("Promoted", "agent", [sales])
        # The new role revoked the old token (issue 12 item 5); a fresh sign-in has the new role.
        assert client.get("/api/v1/users/me", headers=customer.headers).status_code == 401
        login = client.post("/api/v1/auth/login", json={"email": customer.email, "password": PASSWORD})
        assert login.json()["user"]["role"] == "agent"

    def test_clearing_organization(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        customer = make_customer(db, organization_id=make_organization(db, shared=False))
        response = client.patch(
            f"/api/v1/users/{customer.id}", json={"organizationId": None}, headers=admin.headers
        )
        assert response.json()["organizationId"] is None

    def test_admin_cannot_demote_themself(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        response = client.patch(f"/api/v1/users/{admin.id}", json={"role": "agent"}, headers=admin.headers)
        expect_error(response, 409, "conflict")

    def test_unknown_user_is_404(self, client: TestClient, db: Database) -> None:
        response = client.patch("/api/v1/users/424242", json={"name": "x"}, headers=make_admin(db).headers)
        expect_error(response, 404, "user_not_found")


class TestDeactivateUser:
    def test_delete_deactivates_and_tokens_stop_working(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        agent = make_agent(db)
        response = client.delete(f"/api/v1/users/{agent.id}", headers=admin.headers)
        assert response.status_code == 204
        assert client.get(f"/api/v1/users/{agent.id}", headers=admin.headers).json()["isActive"] is False
        assert client.get("/api/v1/users/me", headers=agent.headers).status_code == 401

    def test_deactivated_agent_leaves_the_workload_list(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        agent = make_agent(db)
        client.delete(f"/api/v1/users/{agent.id}", headers=admin.headers)
        ids = [a["id"] for a in client.get("/api/v1/agents", headers=admin.headers).json()["data"]]
        assert agent.id not in ids

    def test_admin_cannot_deactivate_themself(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        expect_error(client.delete(f"/api/v1/users/{admin.id}", headers=admin.headers), 409, "conflict")


class TestOrganizations:
    def test_crud(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        created = client.post(
            "/api/v1/organizations", json={"name": "Acme", "shared": True}, headers=admin.headers
        )
        assert created.status_code == 201, created.text
        org = created.json()
        assert (org["name"], org["shared"]) == ("Acme", True)
        assert "createdAt" in org
        assert client.get(f"/api/v1/organizations/{org['id']}", headers=admin.headers).json() == org
        listed = client.get("/api/v1/organizations", headers=admin.headers).json()["data"]
        assert [o["name"] for o in listed] == ["Acme"]
        patched = client.patch(
            f"/api/v1/organizations/{org['id']}",
            json={"name": "Acme Inc", "shared": False},
            headers=admin.headers,
        )
        assert (patched.json()["name"], patched.json()["shared"]) == ("Acme Inc", False)
        assert client.delete(f"/api/v1/organizations/{org['id']}", headers=admin.headers).status_code == 204
        expect_error(
            client.get(f"/api/v1/organizations/{org['id']}", headers=admin.headers),
            404,
            "organization_not_found",
        )

    def test_deleting_keeps_members_without_organization(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        org = make_organization(db, shared=True)
        member = make_customer(db, organization_id=org)
        assert client.delete(f"/api/v1/organizations/{org}", headers=admin.headers).status_code == 204
        user = client.get(f"/api/v1/users/{member.id}", headers=admin.headers).json()
        assert user["organizationId"] is None
        assert user["isActive"] is True

    def test_duplicate_name_is_409(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        client.post("/api/v1/organizations", json={"name": "Acme"}, headers=admin.headers)
        response = client.post("/api/v1/organizations", json={"name": "ACME"}, headers=admin.headers)
        expect_error(response, 409, "organization_name_taken")

    def test_agent_is_403(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        expect_error(client.get("/api/v1/organizations", headers=agent.headers), 403, "forbidden")
        response = client.post("/api/v1/organizations", json={"name": "X"}, headers=agent.headers)
        expect_error(response, 403, "forbidden")


class TestDepartments:
    def test_crud(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        created = client.post(
            "/api/v1/departments", json={"slug": "legal", "name": "Legal"}, headers=admin.headers
        )
        assert created.status_code == 201, created.text
        department = created.json()
        assert (department["slug"], department["name"], department["isActive"]) == ("legal", "Legal", True)
        slugs = [d["slug"] for d in client.get("/api/v1/departments", headers=admin.headers).json()["data"]]
        assert "legal" in slugs
        patched = client.patch(
            f"/api/v1/departments/{department['id']}",
            json={"name": "Legal & Compliance"},
            headers=admin.headers,
        )
        assert patched.json()["name"] == "Legal & Compliance"
        assert (
            client.delete(f"/api/v1/departments/{department['id']}", headers=admin.headers).status_code == 204
        )
        slugs = [d["slug"] for d in client.get("/api/v1/departments", headers=admin.headers).json()["data"]]
        assert "legal" not in slugs

    def test_deleting_a_department_holding_tickets_is_409(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        ticket = api_ticket(client, make_customer(db), department="billing")
        billing = ticket["department"]["id"]  # type: ignore[index]
        response = client.delete(f"/api/v1/departments/{billing}", headers=admin.headers)
        error = expect_error(response, 409, "department_in_use")
        assert error["details"]["departmentId"] == billing
        assert "billing" in [
            d["slug"] for d in client.get("/api/v1/departments", headers=admin.headers).json()["data"]
        ]
        assert client.get(f"/api/v1/tickets/{ticket['id']}", headers=admin.headers).status_code == 200

    def test_deactivated_department_is_hidden_and_refuses_new_tickets(
        self, client: TestClient, db: Database
    ) -> None:
        admin = make_admin(db)
        sales = department_id(client, admin, "sales")
        response = client.patch(
            f"/api/v1/departments/{sales}", json={"isActive": False}, headers=admin.headers
        )
        assert response.json()["isActive"] is False
        slugs = [d["slug"] for d in client.get("/api/v1/departments", headers=admin.headers).json()["data"]]
        assert "sales" not in slugs
        refused = client.post(
            "/api/v1/tickets",
            json={"title": "x", "description": "y", "department": "sales"},
            headers=make_customer(db).headers,
        )
        assert refused.status_code in (404, 422)

    def test_duplicate_slug_is_409(self, client: TestClient, db: Database) -> None:
        response = client.post(
            "/api/v1/departments", json={"slug": "billing", "name": "Again"}, headers=make_admin(db).headers
        )
        expect_error(response, 409, "department_slug_taken")

    def test_bad_slug_is_422(self, client: TestClient, db: Database) -> None:
        response = client.post(
            "/api/v1/departments", json={"slug": "Not A Slug", "name": "X"}, headers=make_admin(db).headers
        )
        expect_error(response, 422, "validation_error")

    def test_agent_is_403(self, client: TestClient, db: Database) -> None:
        response = client.post(
            "/api/v1/departments", json={"slug": "x", "name": "X"}, headers=make_agent(db).headers
        )
        expect_error(response, 403, "forbidden")


class TestCategories:
    def test_crud(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        created = client.post(
            "/api/v1/categories", json={"name": "Hardware", "description": "Things"}, headers=admin.headers
        )
        assert created.status_code == 201, created.text
        category = created.json()
        assert (category["name"], category["description"], category["isActive"]) == (
            "Hardware",
            "Things",
            True,
        )
        patched = client.patch(
            f"/api/v1/categories/{category['id']}", json={"name": "Devices"}, headers=admin.headers
        )
        assert patched.json()["name"] == "Devices"
        names = [c["name"] for c in client.get("/api/v1/categories", headers=admin.headers).json()["data"]]
        assert names == ["Devices"]
        assert client.delete(f"/api/v1/categories/{category['id']}", headers=admin.headers).status_code == 204
        assert client.get("/api/v1/categories", headers=admin.headers).json()["data"] == []

    def test_deleting_a_used_category_detaches_tickets(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        category = client.post("/api/v1/categories", json={"name": "Hardware"}, headers=admin.headers).json()
        ticket = api_ticket(client, make_customer(db), category=category["id"])
        assert client.delete(f"/api/v1/categories/{category['id']}", headers=admin.headers).status_code == 204
        assert client.get(f"/api/v1/tickets/{ticket['id']}", headers=admin.headers).json()["category"] is None

    def test_inactive_category_is_hidden(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        category = client.post("/api/v1/categories", json={"name": "Old"}, headers=admin.headers).json()
        client.patch(f"/api/v1/categories/{category['id']}", json={"is_active": False}, headers=admin.headers)
        assert client.get("/api/v1/categories", headers=admin.headers).json()["data"] == []

    def test_duplicate_name_is_409(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        client.post("/api/v1/categories", json={"name": "Hardware"}, headers=admin.headers)
        response = client.post("/api/v1/categories", json={"name": "hardware"}, headers=admin.headers)
        expect_error(response, 409, "category_name_taken")

    def test_unknown_category_is_404(self, client: TestClient, db: Database) -> None:
        response = client.delete("/api/v1/categories/424242", headers=make_admin(db).headers)
        expect_error(response, 404, "category_not_found")

    def test_agent_is_403(self, client: TestClient, db: Database) -> None:
        response = client.post("/api/v1/categories", json={"name": "X"}, headers=make_agent(db).headers)
        expect_error(response, 403, "forbidden")
