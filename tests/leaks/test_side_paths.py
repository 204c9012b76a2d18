"""The less obvious ways out: reports, staff lists, error bodies, bulk, and filters that would act
as an oracle for a staff-only field."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.factories import staff_keys_in
from tests.leaks.scene import ASSIGNEE_NAME, TAG_WORD, markers_in, ok, worked_ticket
from ticketry.core.db import Database


class TestStaffOnlyEndpoints:
    @pytest.mark.parametrize(
        "path",
        [
            "/api/v1/stats",
            "/api/v1/agents",
            "/api/v1/tickets/queue",
            "/api/v1/tickets/assigned-to-me",
            "/api/v1/users",
            "/api/v1/organizations",
            "/api/v1/admin/jobs",
        ],
    )
    def test_customer_gets_403_and_nothing_else(self, client: TestClient, db: Database, path: str) -> None:
        scene = worked_ticket(client, db)
        response = client.get(path, headers=scene.customer.headers)
        assert response.status_code == 403, response.text
        assert set(response.json()) == {"error"}
        assert markers_in(response.text) == []

    def test_agents_list_is_staff_data(self, client: TestClient, db: Database) -> None:
        """Control: the agents list does name the assignee, which is why customers are refused."""
        scene = worked_ticket(client, db)
        names = [a["name"] for a in ok(client.get("/api/v1/agents", headers=scene.agent.headers))["data"]]
        assert ASSIGNEE_NAME in names

    def test_customer_cannot_read_a_staff_user_record(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)
        response = client.get(f"/api/v1/users/{scene.assignee.id}", headers=scene.customer.headers)
        assert response.status_code == 403
        assert ASSIGNEE_NAME not in response.text


class TestStaleUpdateConflict:
    def test_409_body_for_a_customer_carries_no_staff_field(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)
        response = client.put(
            f"/api/v1/tickets/{scene.ticket_id}/status",
            json={"status": "closed", "version": 1},
            headers=scene.customer.headers,
        )
        assert response.status_code == 409, response.text
        body = response.json()
        assert body["error"]["code"] == "stale_ticket"
        assert staff_keys_in(body) == set()
        assert markers_in(response.text) == []
        assert body["error"]["details"]["current"]["status"] == "on_hold"

    def test_409_body_for_staff_names_the_assignee(self, client: TestClient, db: Database) -> None:
        """Control: the same conflict tells staff who holds the ticket."""
        scene = worked_ticket(client, db)
        response = client.put(
            f"/api/v1/tickets/{scene.ticket_id}/status",
            json={"status": "closed", "version": 1},
            headers=scene.agent.headers,
        )
        assert response.status_code == 409
        assert response.json()["error"]["details"]["current"]["assigneeId"] == scene.assignee.id


class TestBulkUpdate:
    def test_customer_is_refused_and_nothing_changes(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)
        before = ok(client.get(f"/api/v1/tickets/{scene.ticket_id}", headers=scene.admin.headers))
        response = client.post(
            "/api/v1/tickets/bulk-update",
            json={"ticketIds": [scene.ticket_id], "status": "closed", "unassign": True},
            headers=scene.customer.headers,
        )
        assert response.status_code == 403
        assert markers_in(response.text) == []
        after = ok(client.get(f"/api/v1/tickets/{scene.ticket_id}", headers=scene.admin.headers))
        assert after["version"] == before["version"]
        assert after["assignee"]["id"] == scene.assignee.id


class TestFilterOracles:
    """Filtering by a staff-only field would tell a customer its value (is my ticket assigned?
    to whom? tagged 'vip'?) through which tickets come back; such filters are staff-only."""

    @pytest.mark.parametrize(
        "query", ["assigned_to=none", "assigned_to=me", "assigned_to={assignee}", f"tag={TAG_WORD}"]
    )
    def test_customer_cannot_filter_by_a_staff_only_field(
        self, client: TestClient, db: Database, query: str
    ) -> None:
        scene = worked_ticket(client, db)
        path = "/api/v1/tickets?" + query.format(assignee=scene.assignee.id)
        response = client.get(path, headers=scene.customer.headers)
        assert response.status_code == 403, response.text
        assert "data" not in response.json()

    def test_my_own_unassigned_ticket_does_not_answer_assigned_to_none(
        self, client: TestClient, db: Database
    ) -> None:
        scene = worked_ticket(client, db)
        ok(client.post(f"/api/v1/tickets/{scene.ticket_id}/unassign", headers=scene.admin.headers))
        response = client.get("/api/v1/tickets?assigned_to=none", headers=scene.customer.headers)
        assert response.status_code == 403

    @pytest.mark.parametrize("query", ["assigned_to={assignee}", f"tag={TAG_WORD}"])
    def test_staff_filter_by_them(self, client: TestClient, db: Database, query: str) -> None:
        scene = worked_ticket(client, db)
        path = "/api/v1/tickets?" + query.format(assignee=scene.assignee.id)
        assert [t["id"] for t in ok(client.get(path, headers=scene.agent.headers))["data"]] == [
            scene.ticket_id
        ]
