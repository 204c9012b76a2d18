"""Editing replies and notes, and their revisions (issue 6 part 5, docs/product.md §2 "Messages")."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import (
    Persona,
    api_ticket,
    delete_message,
    make_admin,
    make_agent,
    make_customer,
    make_message,
    set_status,
)
from ticketry.core.db import Database
from ticketry.history.models import TicketEvent
from ticketry.messages import revisions
from ticketry.messages.models import Message, MessageRevision


@pytest.fixture
def cast(db: Database) -> dict[str, Persona]:
    return {
        "customer": make_customer(db),
        "other_customer": make_customer(db),
        "agent": make_agent(db),
        "other_agent": make_agent(db),
        "admin": make_admin(db),
    }


def new_ticket(client: TestClient, cast: dict[str, Persona]) -> int:
    return int(str(api_ticket(client, cast["customer"], department="technical")["id"]))


def edit(
    client: TestClient, persona: Persona, ticket_id: int, message_id: int, body: str, **more: Any
) -> Any:
    return client.patch(
        f"/api/v1/tickets/{ticket_id}/replies/{message_id}",
        json={"body": body, **more},
        headers=persona.headers,
    )


def revisions_of(client: TestClient, persona: Persona, ticket_id: int, message_id: int) -> Any:
    return client.get(f"/api/v1/tickets/{ticket_id}/replies/{message_id}/revisions", headers=persona.headers)


def stored_revisions(db: Database, message_id: int) -> list[MessageRevision]:
    with db.unit_of_work(write=False) as session:
        query = select(MessageRevision).where(MessageRevision.message_id == message_id)
        return list(session.scalars(query.order_by(MessageRevision.id)))


def message_row(db: Database, message_id: int) -> Message:
    with db.unit_of_work(write=False) as session:
        message = session.get(Message, message_id)
        assert message is not None
        return message


def edit_events(db: Database, ticket_id: int) -> list[tuple[str | None, str | None, bool]]:
    with db.unit_of_work(write=False) as session:
        rows = session.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id, TicketEvent.field == "message")
            .order_by(TicketEvent.id)
        )
        return [(e.old_value, e.new_value, e.is_internal) for e in rows]


class TestEditMessage:
    def test_author_edits_their_reply(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast)
        message = make_message(db, cast["agent"], ticket_id, body="Try restarting.")

        response = edit(client, cast["agent"], ticket_id, message.id, "Try **restarting** the router.")

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["body"] == "Try **restarting** the router."
        assert "<strong>restarting</strong>" in body["bodyHtml"]
        assert body["edited"] is True
        assert body["updatedAt"] is not None
        assert body["updatedById"] == cast["agent"].id
        [revision] = stored_revisions(db, message.id)
        assert (revision.body, revision.written_by_id, revision.replaced_by_id) == (
            "Try restarting.",
            cast["agent"].id,
            cast["agent"].id,
        )
        assert revision.written_at == message_row(db, message.id).created_at
        assert edit_events(db, ticket_id) == [(f"#{message.id}", f"#{message.id} edited", False)]

    def test_customer_edits_their_own_reply(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast)
        message = make_message(db, cast["customer"], ticket_id, body="It is model X100.")

        response = edit(client, cast["customer"], ticket_id, message.id, "It is model X200.")

        assert response.status_code == 200, response.text
        assert response.json()["edited"] is True
        assert "isInternal" not in response.json()
        assert "updatedById" not in response.json()

    def test_admin_edits_someone_elses_and_authorship_of_each_text_is_kept(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast)
        message = make_message(db, cast["agent"], ticket_id, body="first")
        assert edit(client, cast["admin"], ticket_id, message.id, "second").status_code == 200
        assert edit(client, cast["agent"], ticket_id, message.id, "third").status_code == 200

        first, second = stored_revisions(db, message.id)
        assert (first.body, first.written_by_id, first.replaced_by_id) == (
            "first",
            cast["agent"].id,
            cast["admin"].id,
        )
        assert (second.body, second.written_by_id, second.replaced_by_id) == (
            "second",
            cast["admin"].id,
            cast["agent"].id,
        )
        assert second.written_at == first.replaced_at
        assert message_row(db, message.id).updated_by_id == cast["agent"].id

    def test_agent_cannot_edit_another_agents_reply(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast)
        message = make_message(db, cast["agent"], ticket_id, body="mine")

        response = edit(client, cast["other_agent"], ticket_id, message.id, "theirs now")

        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "forbidden"
        assert message_row(db, message.id).body == "mine"
        assert stored_revisions(db, message.id) == []

    def test_agent_cannot_edit_a_customers_message(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast)
        message = make_message(db, cast["customer"], ticket_id, body="my words")
        assert edit(client, cast["agent"], ticket_id, message.id, "other words").status_code == 403

    def test_customer_cannot_edit_a_staff_reply(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast)
        message = make_message(db, cast["agent"], ticket_id, body="We refund nothing.")
        response = edit(client, cast["customer"], ticket_id, message.id, "We refund everything.")
        assert response.status_code == 403
        assert message_row(db, message.id).body == "We refund nothing."

    def test_customer_gets_404_for_a_note(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast)
        note = make_message(db, cast["agent"], ticket_id, body="between us", internal=True)
        response = edit(client, cast["customer"], ticket_id, note.id, "hello")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "message_not_found"

    def test_someone_elses_ticket_is_404(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast)
        message = make_message(db, cast["customer"], ticket_id, body="mine")
        response = edit(client, cast["other_customer"], ticket_id, message.id, "hijacked")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "ticket_not_found"

    def test_message_of_another_ticket_is_404(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast)
        other_ticket = new_ticket(client, cast)
        message = make_message(db, cast["agent"], other_ticket, body="elsewhere")
        assert edit(client, cast["agent"], ticket_id, message.id, "moved?").status_code == 404

    def test_customer_cannot_edit_on_a_closed_ticket(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast)
        message = make_message(db, cast["customer"], ticket_id, body="typo hre")
        set_status(db, cast["admin"], ticket_id, "closed")
        response = edit(client, cast["customer"], ticket_id, message.id, "typo here")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "ticket_closed"

    def test_staff_still_edits_on_a_closed_ticket(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast)
        message = make_message(db, cast["agent"], ticket_id, body="typo hre")
        set_status(db, cast["admin"], ticket_id, "closed")
        assert edit(client, cast["agent"], ticket_id, message.id, "typo here").status_code == 200

    def test_deleted_message_is_409_for_staff_and_404_for_the_customer(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast)
        message = make_message(db, cast["customer"], ticket_id, body="delete me")
        delete_message(db, cast["admin"], message.id)

        staff = edit(client, cast["admin"], ticket_id, message.id, "edited while deleted")
        customer = edit(client, cast["customer"], ticket_id, message.id, "edited while deleted")

        assert (staff.status_code, staff.json()["error"]["code"]) == (409, "message_deleted")
        assert (customer.status_code, customer.json()["error"]["code"]) == (404, "message_not_found")
        assert message_row(db, message.id).body == "delete me"

    def test_the_same_text_again_is_a_no_op(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast)
        message = make_message(db, cast["agent"], ticket_id, body="unchanged")

        response = edit(client, cast["agent"], ticket_id, message.id, "unchanged")

        assert response.status_code == 200
        assert response.json()["edited"] is False
        assert stored_revisions(db, message.id) == []
        assert edit_events(db, ticket_id) == []

    def test_a_nul_character_is_never_a_server_error(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast)
        message = make_message(db, cast["agent"], ticket_id, body="clean")
        response = edit(client, cast["agent"], ticket_id, message.id, "nul \u0000 here")
        assert response.status_code < 500, response.text  # PostgreSQL refuses it with a 4xx

    def test_empty_text_is_refused(self, client: TestClient, db: Database, cast: dict[str, Persona]) -> None:
        ticket_id = new_ticket(client, cast)
        message = make_message(db, cast["agent"], ticket_id, body="something")
        assert edit(client, cast["agent"], ticket_id, message.id, "   ").status_code == 422

    def test_stale_expected_revisions_is_409_and_a_fresh_one_passes(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast)
        message = make_message(db, cast["agent"], ticket_id, body="v0")
        assert (
            edit(client, cast["agent"], ticket_id, message.id, "v1", expectedRevisions=0).status_code == 200
        )

        stale = edit(client, cast["admin"], ticket_id, message.id, "v2", expectedRevisions=0)
        assert stale.status_code == 409
        assert stale.json()["error"]["code"] == "stale_message"
        assert stale.json()["error"]["details"] == {"revisionCount": 1, "body": "v1"}
        assert (
            edit(client, cast["admin"], ticket_id, message.id, "v2", expected_revisions=1).status_code == 200
        )

    def test_note_edit_is_staff_only_history(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast)
        note = make_message(db, cast["agent"], ticket_id, body="note", internal=True)
        assert edit(client, cast["agent"], ticket_id, note.id, "better note").status_code == 200

        assert edit_events(db, ticket_id) == [(f"#{note.id}", f"#{note.id} edited", True)]
        history = client.get(f"/api/v1/tickets/{ticket_id}/history", headers=cast["customer"].headers).json()
        assert "message" not in {e["field"] for e in history["data"]}

    def test_concurrent_edits_are_both_kept(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        """Two editors save at once: the ticket lock serialises them, and neither text is lost."""
        ticket_id = new_ticket(client, cast)
        message = make_message(db, cast["agent"], ticket_id, body="original")
        start = threading.Barrier(2)
        errors: list[BaseException] = []

        def save(persona: Persona, text: str) -> None:
            try:
                start.wait()
                with db.unit_of_work() as session:
                    revisions.edit_message(session, persona.actor, ticket_id, message.id, body=text)
            except BaseException as error:
                errors.append(error)

        threads = [
            threading.Thread(target=save, args=(cast["agent"], "agent's text")),
            threading.Thread(target=save, args=(cast["admin"], "admin's text")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert errors == []
        texts = [r.body for r in stored_revisions(db, message.id)] + [message_row(db, message.id).body]
        assert texts[0] == "original"
        assert sorted(texts[1:]) == ["admin's text", "agent's text"]


class TestRevisions:
    def test_every_text_is_kept_newest_first(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast)
        message = make_message(db, cast["customer"], ticket_id, body="one")
        for text in ("two", "three", "four"):
            assert edit(client, cast["customer"], ticket_id, message.id, text).status_code == 200

        response = revisions_of(client, cast["customer"], ticket_id, message.id)

        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert [r["body"] for r in data] == ["three", "two", "one"]
        assert response.json()["pagination"]["total"] == 3
        assert data[0]["bodyHtml"] == "<p>three</p>\n"
        assert data[-1]["writtenBy"] == {"id": cast["customer"].id, "name": data[-1]["writtenBy"]["name"]}
        assert all(r["replacedAt"] >= r["writtenAt"] for r in data)
        assert set(data[0]) == {
            "id",
            "body",
            "bodyHtml",
            "writtenBy",
            "writtenAt",
            "replacedBy",
            "replacedAt",
        }

    def test_unedited_message_has_none(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast)
        message = make_message(db, cast["agent"], ticket_id, body="never edited")
        response = revisions_of(client, cast["agent"], ticket_id, message.id)
        assert response.json()["data"] == []

    def test_staff_read_revisions_of_a_note(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast)
        note = make_message(db, cast["agent"], ticket_id, body="draft note", internal=True)
        assert edit(client, cast["agent"], ticket_id, note.id, "final note").status_code == 200
        data = revisions_of(client, cast["other_agent"], ticket_id, note.id).json()["data"]
        assert [r["body"] for r in data] == ["draft note"]

    def test_get_one_message(self, client: TestClient, db: Database, cast: dict[str, Persona]) -> None:
        ticket_id = new_ticket(client, cast)
        note = make_message(db, cast["agent"], ticket_id, body="a note", internal=True)
        staff = client.get(f"/api/v1/tickets/{ticket_id}/replies/{note.id}", headers=cast["agent"].headers)
        customer = client.get(
            f"/api/v1/tickets/{ticket_id}/replies/{note.id}", headers=cast["customer"].headers
        )
        assert (staff.status_code, staff.json()["isInternal"]) == (200, True)
        assert customer.status_code == 404


class TestSearchFollowsEdits:
    @pytest.mark.parametrize("who", ["agent", "customer"])
    def test_new_text_is_found_and_old_text_no_longer(
        self, client: TestClient, db: Database, cast: dict[str, Persona], who: str
    ) -> None:
        ticket_id = new_ticket(client, cast)
        message = make_message(db, cast["customer"], ticket_id, body="The gizmo says aardvarkold.")

        def found(word: str) -> list[int]:
            page = client.get(f"/api/v1/tickets?q={word}", headers=cast[who].headers).json()
            return [t["id"] for t in page["data"]]

        assert found("aardvarkold") == [ticket_id]
        assert (
            edit(client, cast["customer"], ticket_id, message.id, "The gizmo says bandicootnew.").status_code
            == 200
        )

        assert found("bandicootnew") == [ticket_id]
        assert found("aardvarkold") == []
