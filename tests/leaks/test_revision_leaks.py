"""Revisions are a new read path (issue 6 part 5): a customer never reads an earlier text of a
note, never a deleted message or its earlier texts, and nothing of another customer's ticket."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.factories import delete_message, make_customer, make_message, staff_keys_in, web_session
from tests.leaks.scene import NOTE_WORD, PUBLIC_WORD, Scene, markers_in, ok, worked_ticket
from ticketry.core.db import Database

OLD_NOTE_WORD = "numbatoldnote"
NEW_NOTE_WORD = "bilbynewnote"
OLD_DELETED_WORD = "cassowaryold"
NEW_DELETED_WORD = "dugongnew"
OTHER_WORD = "kookaburraother"


def patch(client: TestClient, scene: Scene, message_id: int, body: str, who: str = "agent") -> Any:
    persona = getattr(scene, who)
    return ok(
        client.patch(
            f"/api/v1/tickets/{scene.ticket_id}/replies/{message_id}",
            json={"body": body},
            headers=persona.headers,
        )
    )


def revisions_url(ticket_id: int, message_id: int) -> str:
    return f"/api/v1/tickets/{ticket_id}/replies/{message_id}/revisions"


def edited_note(client: TestClient, db: Database) -> Scene:
    """The worked ticket, its note edited twice: every text of it is staff-only."""
    scene = worked_ticket(client, db)
    patch(client, scene, scene.note_id, f"Careful, {OLD_NOTE_WORD} reseller.")
    patch(client, scene, scene.note_id, f"Careful, {NEW_NOTE_WORD} reseller.")
    return scene


def deleted_after_edit(client: TestClient, db: Database, scene: Scene) -> int:
    """A public reply, edited, then deleted by an admin: none of its texts is for the customer."""
    message = make_message(db, scene.agent, scene.ticket_id, body=f"We will ship a {OLD_DELETED_WORD}.")
    patch(client, scene, message.id, f"We will ship a {NEW_DELETED_WORD}.")
    delete_message(db, scene.admin, message.id)
    return message.id


def customer_reads(client: TestClient, db: Database, scene: Scene, *message_ids: int) -> dict[str, Any]:
    """Everything the customer can fetch about the ticket and these messages, API and portal."""
    ticket = f"/api/v1/tickets/{scene.ticket_id}"
    api = [ticket, f"{ticket}/replies", f"{ticket}/history", "/api/v1/tickets"]
    for message_id in (scene.reply_id, *message_ids):
        api += [f"{ticket}/replies/{message_id}", revisions_url(scene.ticket_id, message_id)]
    found = {path: client.get(path, headers=scene.customer.headers) for path in api}
    cookie, _ = web_session(db, scene.customer)
    client.cookies.set("ticketry_session", cookie)
    pages = [f"/tickets/{scene.ticket_id}", "/?tab=all"]
    pages += [f"/tickets/{scene.ticket_id}/messages/{m}/revisions" for m in (scene.reply_id, *message_ids)]
    found |= {path: client.get(path, follow_redirects=False) for path in pages}
    client.cookies.clear()
    return found


class TestNoteRevisions:
    def test_customer_gets_404_for_a_notes_revisions(self, client: TestClient, db: Database) -> None:
        scene = edited_note(client, db)
        response = client.get(revisions_url(scene.ticket_id, scene.note_id), headers=scene.customer.headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "message_not_found"
        assert markers_in(response.text) == [] and OLD_NOTE_WORD not in response.text

    def test_staff_do_read_them(self, client: TestClient, db: Database) -> None:
        """Control: the old texts exist, so their absence for the customer is the filter."""
        scene = edited_note(client, db)
        data = ok(client.get(revisions_url(scene.ticket_id, scene.note_id), headers=scene.agent.headers))[
            "data"
        ]
        assert OLD_NOTE_WORD in data[0]["body"] and NOTE_WORD in data[1]["body"]

    def test_no_customer_path_carries_any_text_of_the_edited_note(
        self, client: TestClient, db: Database
    ) -> None:
        scene = edited_note(client, db)
        patch(client, scene, scene.reply_id, f"Try a {PUBLIC_WORD} first, then call us.")

        answers = customer_reads(client, db, scene, scene.note_id)

        leaks = [
            path
            for path, response in answers.items()
            for word in (NOTE_WORD, OLD_NOTE_WORD, NEW_NOTE_WORD)
            if word in response.text
        ]
        assert leaks == []
        note_paths = [
            p for p in answers if f"replies/{scene.note_id}" in p or f"messages/{scene.note_id}/" in p
        ]
        assert len(note_paths) == 3
        assert {answers[p].status_code for p in note_paths} == {404}
        # The paths are not vacuous: the public reply and its earlier text do reach the customer.
        revisions = answers[revisions_url(scene.ticket_id, scene.reply_id)]
        assert revisions.status_code == 200 and PUBLIC_WORD in revisions.text
        assert staff_keys_in(revisions.json()) == set()

    def test_customer_history_does_not_point_at_the_note_edit(self, client: TestClient, db: Database) -> None:
        scene = edited_note(client, db)
        events = ok(client.get(f"/api/v1/tickets/{scene.ticket_id}/history", headers=scene.customer.headers))
        assert f"#{scene.note_id}" not in str(events)

    def test_customer_search_finds_no_text_of_the_note(self, client: TestClient, db: Database) -> None:
        scene = edited_note(client, db)
        for word in (NEW_NOTE_WORD, OLD_NOTE_WORD):
            page = ok(client.get(f"/api/v1/tickets?q={word}", headers=scene.customer.headers))
            assert page["pagination"]["total"] == 0, word
        staff = ok(client.get(f"/api/v1/tickets?q={NEW_NOTE_WORD}", headers=scene.agent.headers))
        assert [t["id"] for t in staff["data"]] == [scene.ticket_id]


class TestDeletedContent:
    def test_customer_gets_404_for_a_deleted_messages_revisions(
        self, client: TestClient, db: Database
    ) -> None:
        scene = worked_ticket(client, db)
        message_id = deleted_after_edit(client, db, scene)
        response = client.get(revisions_url(scene.ticket_id, message_id), headers=scene.customer.headers)
        assert response.status_code == 404
        assert OLD_DELETED_WORD not in response.text

    def test_no_customer_path_carries_any_text_of_a_deleted_message(
        self, client: TestClient, db: Database
    ) -> None:
        scene = worked_ticket(client, db)
        message_id = deleted_after_edit(client, db, scene)

        answers = customer_reads(client, db, scene, message_id)

        leaks = [
            path
            for path, response in answers.items()
            for word in (OLD_DELETED_WORD, NEW_DELETED_WORD)
            if word in response.text
        ]
        assert leaks == []
        assert answers[revisions_url(scene.ticket_id, message_id)].status_code == 404
        assert answers[f"/tickets/{scene.ticket_id}/messages/{message_id}/revisions"].status_code == 404
        for word in (OLD_DELETED_WORD, NEW_DELETED_WORD):
            page = ok(client.get(f"/api/v1/tickets?q={word}", headers=scene.customer.headers))
            assert page["pagination"]["total"] == 0, word

    def test_admins_still_see_it_in_the_desk(self, client: TestClient, db: Database) -> None:
        """Control: the deleted message is there for whoever may restore it."""
        scene = worked_ticket(client, db)
        deleted_after_edit(client, db, scene)
        cookie, _ = web_session(db, scene.admin)
        client.cookies.set("ticketry_session", cookie)
        page = client.get(f"/desk/tickets/{scene.ticket_id}", follow_redirects=False)
        assert page.status_code == 200 and NEW_DELETED_WORD in page.text


class TestOtherCustomersTicket:
    def test_customer_gets_404_for_revisions_on_someone_elses_ticket(
        self, client: TestClient, db: Database
    ) -> None:
        scene = worked_ticket(client, db)
        patch(client, scene, scene.reply_id, f"Try a {OTHER_WORD} first.")
        stranger = make_customer(db)

        for path in (
            revisions_url(scene.ticket_id, scene.reply_id),
            f"/api/v1/tickets/{scene.ticket_id}/replies/{scene.reply_id}",
        ):
            response = client.get(path, headers=stranger.headers)
            assert response.status_code == 404, path
            assert response.json()["error"]["code"] == "ticket_not_found"
            assert PUBLIC_WORD not in response.text and OTHER_WORD not in response.text

        cookie, _ = web_session(db, stranger)
        client.cookies.set("ticketry_session", cookie)
        page = client.get(
            f"/tickets/{scene.ticket_id}/messages/{scene.reply_id}/revisions", follow_redirects=False
        )
        assert page.status_code == 404
        assert PUBLIC_WORD not in page.text

    def test_stranger_cannot_edit_either(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)
        stranger = make_customer(db)
        response = client.patch(
            f"/api/v1/tickets/{scene.ticket_id}/replies/{scene.reply_id}",
            json={"body": "mine now"},
            headers=stranger.headers,
        )
        assert response.status_code == 404
