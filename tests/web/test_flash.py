"""The one-time message after a form ("Reply sent.") reaches the page the person goes to: only a
whole page takes it, never a refresh, a block for htmx or a fragment fetched by the old page."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.factories import make_agent, make_customer, make_ticket
from tests.mail_admin import Browser, flash

from ticketry.core.db import Database

LIVE = {"X-Live-Refresh": "1"}


def test_a_live_refresh_leaves_the_flash_to_the_page_being_opened(client: TestClient, db: Database) -> None:
    """The reply's own event refreshes the old page while the browser follows the reply's
    redirect: the refresh must not consume "Reply sent." (it was lost now and then)."""
    agent = make_agent(db)
    ticket = make_ticket(db, make_customer(db))
    browser = Browser(client, db, agent)
    sent = browser.submit(f"/desk/tickets/{ticket.id}/reply", {"body": "On it."})
    assert sent.status_code == 303, sent.text
    refreshed = client.get(f"/desk/tickets/{ticket.id}", headers=LIVE)
    assert refreshed.status_code == 200
    assert "ticketry_flash" not in refreshed.headers.get("set-cookie", "")
    assert "Reply sent." not in refreshed.text
    assert flash(browser.get(sent.headers["location"])) == "success: Reply sent."


def test_a_fragment_of_the_old_page_leaves_the_flash_to_the_page_being_opened(
    client: TestClient, db: Database
) -> None:
    """The old ticket page fetches its "Assign to" list and the desk its sidebar counts after they
    load; arriving while the browser follows a form's redirect, they must not consume its flash
    ("Note added." was lost so once, under load)."""
    agent = make_agent(db)
    ticket = make_ticket(db, make_customer(db))
    browser = Browser(client, db, agent)
    sent = browser.submit(f"/desk/tickets/{ticket.id}/reply", {"body": "Check the logs.", "internal": "true"})
    assert sent.status_code == 303, sent.text
    for fragment in ("/desk/assignees", "/desk/views/counts"):
        fetched = client.get(fragment)
        assert fetched.status_code == 200, fetched.text
        assert "ticketry_flash" not in fetched.headers.get("set-cookie", "")
    assert flash(browser.get(sent.headers["location"])) == "success: Note added."


def test_a_block_for_htmx_leaves_the_flash(client: TestClient, db: Database) -> None:
    agent = make_agent(db)
    ticket = make_ticket(db, make_customer(db))
    browser = Browser(client, db, agent)
    sent = browser.submit(f"/desk/tickets/{ticket.id}/reply", {"body": "On it."})
    assert sent.status_code == 303, sent.text
    results = client.get("/desk?view=all", headers={"HX-Request": "true", "HX-Target": "results"})
    assert results.status_code == 200
    assert "ticketry_flash" not in results.headers.get("set-cookie", "")
    assert flash(browser.get(sent.headers["location"])) == "success: Reply sent."
