"""Every API path a customer can read, after staff worked their ticket: no note, no reason, no
transfer note, no tag, no assignee, and no staff-only key (docs/product.md §1)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import staff_keys_in
from tests.leaks.scene import (
    ASSIGNEE_NAME,
    NOTE_WORD,
    PUBLIC_WORD,
    REASON_WORD,
    STAFF_ONLY_MARKERS,
    TAG_WORD,
    TRANSFER_WORD,
    Scene,
    markers_in,
    ok,
    worked_ticket,
)
from ticketry.core.db import Database


def customer_paths(scene: Scene) -> list[str]:
    ticket = f"/api/v1/tickets/{scene.ticket_id}"
    return [
        ticket,
        f"{ticket}/replies",
        f"{ticket}/history",
        "/api/v1/tickets",
        "/api/v1/tickets?page_size=100&sort=updated_at",
        "/api/v1/tickets?status=on_hold",
        f"/api/v1/tickets?q={PUBLIC_WORD}",
        "/api/v1/tickets?q=printer",
        "/api/v1/tickets/my-tickets",
        "/api/v1/users/me",
        f"{ticket}/attachments",
    ]


class TestEveryReadPath:
    def test_customer_receives_no_staff_only_data_on_any_read_path(
        self, client: TestClient, db: Database
    ) -> None:
        scene = worked_ticket(client, db)
        leaks = []
        for path in customer_paths(scene):
            response = client.get(path, headers=scene.customer.headers)
            assert response.status_code == 200, (path, response.text)
            if found := markers_in(response.text):
                leaks.append(f"{path}: {found}")
            if keys := staff_keys_in(response.json()):
                leaks.append(f"{path}: staff keys {sorted(keys)}")
        assert leaks == []

    def test_the_ticket_is_really_found_on_the_list_paths(self, client: TestClient, db: Database) -> None:
        """The paths above are not vacuous: the worked ticket is in every list the customer reads."""
        scene = worked_ticket(client, db)
        for path in customer_paths(scene)[3:9]:
            data = ok(client.get(path, headers=scene.customer.headers))["data"]
            assert [t["id"] for t in data] == [scene.ticket_id], path

    def test_staff_do_see_every_trace(self, client: TestClient, db: Database) -> None:
        """Control: the traces exist, so their absence above is the filter at work."""
        scene = worked_ticket(client, db)
        ticket = f"/api/v1/tickets/{scene.ticket_id}"
        seen = " ".join(
            client.get(path, headers=scene.agent.headers).text
            for path in (ticket, f"{ticket}/replies", f"{ticket}/history")
        )
        assert sorted(markers_in(seen)) == sorted(STAFF_ONLY_MARKERS)


class TestTicketDetail:
    def test_customer_view_declares_no_staff_field(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)
        detail = ok(client.get(f"/api/v1/tickets/{scene.ticket_id}", headers=scene.customer.headers))
        assert staff_keys_in(detail) == set()
        assert detail["status"] == "on_hold"
        assert set(detail["customer"]) == {"id", "name"}

    def test_staff_view_has_the_staff_fields(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)
        detail = ok(client.get(f"/api/v1/tickets/{scene.ticket_id}", headers=scene.agent.headers))
        assert detail["assignee"]["name"] == ASSIGNEE_NAME
        assert [t["name"] for t in detail["tags"]] == [TAG_WORD]
        assert REASON_WORD in detail["statusReason"]
        assert {"viewCount", "createdById", "allowedStatuses"} <= set(detail)


class TestReplies:
    def test_list_holds_the_public_reply_only(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)
        replies = ok(
            client.get(f"/api/v1/tickets/{scene.ticket_id}/replies", headers=scene.customer.headers)
        )["data"]
        assert [m["id"] for m in replies] == [scene.reply_id]
        assert all("isInternal" not in m for m in replies)

    def test_agent_list_holds_the_note(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)
        replies = ok(client.get(f"/api/v1/tickets/{scene.ticket_id}/replies", headers=scene.agent.headers))[
            "data"
        ]
        assert [(m["id"], m["isInternal"]) for m in replies] == [
            (scene.note_id, True),
            (scene.reply_id, False),
        ]

    def test_post_response_is_the_customer_view(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)
        response = client.post(
            f"/api/v1/tickets/{scene.ticket_id}/replies",
            json={"message": "Still smoking."},
            headers=scene.customer.headers,
        )
        body = ok(response, 201)
        assert staff_keys_in(body) == set()
        assert markers_in(response.text) == []
        assert body["isStaffReply"] is False

    def test_customer_cannot_write_a_note(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)
        response = client.post(
            f"/api/v1/tickets/{scene.ticket_id}/replies",
            json={"message": "Let me in on it.", "isInternal": True},
            headers=scene.customer.headers,
        )
        assert response.status_code == 403
        staff_view = ok(
            client.get(f"/api/v1/tickets/{scene.ticket_id}/replies", headers=scene.agent.headers)
        )["data"]
        assert "Let me in on it." not in [m["body"] for m in staff_view]


class TestHistory:
    def test_customer_timeline_has_no_note_assignee_tag_or_deletion_events(
        self, client: TestClient, db: Database
    ) -> None:
        scene = worked_ticket(client, db)
        events = ok(client.get(f"/api/v1/tickets/{scene.ticket_id}/history", headers=scene.customer.headers))[
            "data"
        ]
        fields = {e["field"] for e in events}
        assert fields.isdisjoint({"note", "assignee", "tags", "deleted"})
        assert {"ticket", "reply", "status"} <= fields
        assert all(set(e) >= {"field", "oldValue", "newValue"} and "reason" not in e for e in events)

    def test_note_event_does_not_point_at_the_note(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)
        events = ok(client.get(f"/api/v1/tickets/{scene.ticket_id}/history", headers=scene.customer.headers))[
            "data"
        ]
        assert f"#{scene.note_id}" not in {e["newValue"] for e in events}
        assert f"#{scene.reply_id}" in {e["newValue"] for e in events}

    def test_staff_timeline_keeps_reasons_and_internal_events(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)
        events = ok(client.get(f"/api/v1/tickets/{scene.ticket_id}/history", headers=scene.agent.headers))[
            "data"
        ]
        by_field = {e["field"]: e for e in events}
        assert by_field["note"]["isInternal"] is True
        assert by_field["assignee"]["newValue"] == ASSIGNEE_NAME
        assert TRANSFER_WORD in by_field["assignee"]["reason"]
        assert any(e["field"] == "status" and REASON_WORD in (e["reason"] or "") for e in events)


class TestFullTextSearch:
    def test_customer_finds_nothing_by_a_word_only_in_a_note_of_their_own_ticket(
        self, client: TestClient, db: Database
    ) -> None:
        scene = worked_ticket(client, db)
        page = ok(client.get(f"/api/v1/tickets?q={NOTE_WORD}", headers=scene.customer.headers))
        assert page["data"] == []
        assert page["pagination"]["total"] == 0

    def test_agent_finds_the_ticket_by_the_note_word(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)
        page = ok(client.get(f"/api/v1/tickets?q={NOTE_WORD}", headers=scene.agent.headers))
        assert [t["id"] for t in page["data"]] == [scene.ticket_id]

    def test_customer_finds_nothing_by_reason_transfer_note_or_tag(
        self, client: TestClient, db: Database
    ) -> None:
        scene = worked_ticket(client, db)
        for word in (REASON_WORD, TRANSFER_WORD, TAG_WORD):
            page = ok(client.get(f"/api/v1/tickets?q={word}", headers=scene.customer.headers))
            assert page["pagination"]["total"] == 0, word

    def test_customer_finds_the_ticket_by_a_word_of_a_public_reply(
        self, client: TestClient, db: Database
    ) -> None:
        scene = worked_ticket(client, db)
        page = ok(client.get(f"/api/v1/tickets?q={PUBLIC_WORD}", headers=scene.customer.headers))
        assert [t["id"] for t in page["data"]] == [scene.ticket_id]

    def test_note_word_prefix_finds_nothing_either(self, client: TestClient, db: Database) -> None:
        """The last term is searched as a prefix: a prefix of a note word must not match a note."""
        scene = worked_ticket(client, db)
        page = ok(client.get(f"/api/v1/tickets?q={NOTE_WORD[:6]}", headers=scene.customer.headers))
        assert page["pagination"]["total"] == 0
