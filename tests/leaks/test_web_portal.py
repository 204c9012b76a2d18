"""The customer portal renders the same conversation as the API, so it hides the same things."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import make_customer, web_session
from tests.leaks.scene import NOTE_WORD, PUBLIC_WORD, markers_in, worked_ticket
from ticketry.core.db import Database


class TestPortalPages:
    def test_ticket_page_shows_the_reply_and_nothing_staff_only(
        self, client: TestClient, db: Database
    ) -> None:
        scene = worked_ticket(client, db)
        cookie, _ = web_session(db, scene.customer)
        client.cookies.set("ticketry_session", cookie)

        page = client.get(f"/tickets/{scene.ticket_id}", follow_redirects=False)

        assert page.status_code == 200, page.text[:500]
        assert PUBLIC_WORD in page.text
        assert markers_in(page.text) == []

    def test_ticket_list_shows_the_ticket_and_nothing_staff_only(
        self, client: TestClient, db: Database
    ) -> None:
        scene = worked_ticket(client, db)
        cookie, _ = web_session(db, scene.customer)
        client.cookies.set("ticketry_session", cookie)

        page = client.get("/?tab=all", follow_redirects=False)

        assert page.status_code == 200, page.text[:500]
        assert "Printer on fire" in page.text
        assert markers_in(page.text) == []

    def test_the_portal_search_finds_by_public_words_only_and_shows_nothing_staff_only(
        self, client: TestClient, db: Database
    ) -> None:
        """A portal search reads its page by id after its walk (`search.service._searched`),
        through the customer's visibility again."""
        scene = worked_ticket(client, db)
        cookie, _ = web_session(db, scene.customer)
        client.cookies.set("ticketry_session", cookie)

        found = client.get("/", params={"tab": "all", "q": PUBLIC_WORD}, follow_redirects=False)
        by_note = client.get("/", params={"tab": "all", "q": NOTE_WORD}, follow_redirects=False)

        assert found.status_code == by_note.status_code == 200
        assert "Printer on fire" in found.text and markers_in(found.text) == []
        assert "Printer on fire" not in by_note.text

    def test_another_customers_portal_search_finds_nothing_of_theirs(
        self, client: TestClient, db: Database
    ) -> None:
        worked_ticket(client, db)
        cookie, _ = web_session(db, make_customer(db))
        client.cookies.set("ticketry_session", cookie)

        page = client.get("/", params={"tab": "all", "q": PUBLIC_WORD}, follow_redirects=False)

        assert page.status_code == 200
        assert "Printer on fire" not in page.text and markers_in(page.text) == []

    def test_desk_page_of_the_ticket_is_not_for_customers(self, client: TestClient, db: Database) -> None:
        scene = worked_ticket(client, db)
        cookie, _ = web_session(db, scene.customer)
        client.cookies.set("ticketry_session", cookie)

        page = client.get(f"/desk/tickets/{scene.ticket_id}", follow_redirects=False)

        assert page.status_code in (303, 403, 404)
        assert markers_in(page.text) == []

    def test_staff_desk_page_does_show_the_note(self, client: TestClient, db: Database) -> None:
        """Control: the desk renders notes, so their absence from the portal is the filter."""
        scene = worked_ticket(client, db)
        cookie, _ = web_session(db, scene.agent)
        client.cookies.set("ticketry_session", cookie)

        page = client.get(f"/desk/tickets/{scene.ticket_id}", follow_redirects=False)

        assert page.status_code == 200, page.text[:500]
        assert "quokkanote" in page.text
