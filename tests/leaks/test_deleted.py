"""Deleted messages and deleted tickets are gone for customers on every path."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import delete_message, delete_ticket, make_message
from tests.leaks.scene import PUBLIC_WORD, ok, worked_ticket
from ticketry.core.db import Database

DELETED_WORD = "marmosetdeleted"


class TestDeletedMessage:
    def test_customer_no_longer_reads_it(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)
        message = make_message(db, scene.agent, scene.ticket_id, body=f"Sorry, {DELETED_WORD} was wrong.")
        delete_message(db, scene.admin, message.id)

        replies = ok(
            client.get(f"/api/v1/tickets/{scene.ticket_id}/replies", headers=scene.customer.headers)
        )["data"]

        assert [m["id"] for m in replies] == [scene.reply_id]

    def test_customer_no_longer_finds_the_ticket_by_its_words(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)
        message = make_message(db, scene.agent, scene.ticket_id, body=f"Sorry, {DELETED_WORD} was wrong.")
        found = ok(client.get(f"/api/v1/tickets?q={DELETED_WORD}", headers=scene.customer.headers))["data"]
        assert [t["id"] for t in found] == [scene.ticket_id]

        delete_message(db, scene.admin, message.id)

        page = ok(client.get(f"/api/v1/tickets?q={DELETED_WORD}", headers=scene.customer.headers))
        assert page["pagination"]["total"] == 0


class TestDeletedTicket:
    def test_every_path_answers_404(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)
        delete_ticket(db, scene.admin, scene.ticket_id)
        ticket = f"/api/v1/tickets/{scene.ticket_id}"
        headers = scene.customer.headers

        answers = {
            "detail": client.get(ticket, headers=headers),
            "replies": client.get(f"{ticket}/replies", headers=headers),
            "history": client.get(f"{ticket}/history", headers=headers),
            "reply": client.post(f"{ticket}/replies", json={"message": "Hello?"}, headers=headers),
            "close": client.post(f"{ticket}/close", headers=headers),
            "edit": client.patch(ticket, json={"title": "Where did it go"}, headers=headers),
        }

        assert {name: r.status_code for name, r in answers.items()} == dict.fromkeys(answers, 404)
        assert all(r.json()["error"]["code"] == "ticket_not_found" for r in answers.values())

    def test_it_is_in_no_list(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)
        delete_ticket(db, scene.admin, scene.ticket_id)
        for path in (
            "/api/v1/tickets",
            "/api/v1/tickets?deleted=true",
            "/api/v1/tickets/my-tickets",
            f"/api/v1/tickets?q={PUBLIC_WORD}",
            "/api/v1/tickets?q=printer",
        ):
            page = ok(client.get(path, headers=scene.customer.headers))
            assert page["data"] == [] and page["pagination"]["total"] == 0, path

    def test_admin_still_finds_it_among_deleted_ones(self, client: TestClient, db: Database) -> None:
        """Control: the ticket exists; it is the customer's view that hides it."""
        scene = worked_ticket(client, db)
        delete_ticket(db, scene.admin, scene.ticket_id)
        page = ok(client.get("/api/v1/tickets?deleted=true", headers=scene.admin.headers))
        assert [t["id"] for t in page["data"]] == [scene.ticket_id]
        assert ok(client.get(f"/api/v1/tickets/{scene.ticket_id}", headers=scene.admin.headers))["deletedAt"]
