"""The one-time message after a form ("Reply sent.") reaches the page the person goes to."""

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
