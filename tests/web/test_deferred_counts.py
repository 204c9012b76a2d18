"""Numbers that cost more than the page around them come right after it: the desk sidebar's
counts (GET /desk/views/counts, swapped into their places) and the agents' workloads in the
ticket page's "Assign to" list (GET /desk/assignees). A live refresh comes with both."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from tests.factories import assign, make_admin, make_agent, make_customer, make_ticket
from tests.mail_admin import Browser

from ticketry.core.db import Database

LIVE = {"X-Live-Refresh": "1"}


def badge(page: str, view: str) -> str:
    """The sidebar badge of a built-in view, as sent."""
    found = re.search(rf'<span class="count" id="view-count-{view}"[^>]*>[^<]*</span>', page)
    assert found, page
    return found.group(0)


def assign_list(page: str) -> str:
    found = re.search(r'<select name="assignee"[^>]*>.*?</select>', page, re.S)
    assert found, page
    return found.group(0)


class TestSidebarCounts:
    def test_the_page_leaves_room_and_the_counts_come_after(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        customer = make_customer(db)
        make_ticket(db, customer, title="One")
        make_ticket(db, customer, title="Two")
        browser = Browser(client, db, agent)
        page = browser.get("/desk?view=open")
        assert badge(page, "open") == '<span class="count" id="view-count-open" aria-hidden="true"></span>'
        assert 'hx-get="/desk/views/counts"' in page

        counts = browser.get("/desk/views/counts")
        for view, number in [("queue", 2), ("mine", 0), ("open", 2), ("all", 2)]:
            assert badge(counts, view) == (
                f'<span class="count" id="view-count-{view}" hx-swap-oob="true"'
                f' aria-label="{number} tickets">{number}</span>'
            )

    def test_a_live_refresh_comes_with_the_counts(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        make_ticket(db, make_customer(db))
        refreshed = Browser(client, db, agent).client.get("/desk?view=open", headers=LIVE).text
        assert (
            badge(refreshed, "open")
            == '<span class="count" id="view-count-open" aria-label="1 tickets">1</span>'
        )
        assert "/desk/views/counts" not in refreshed


class TestAssigneeWorkloads:
    def test_names_first_then_the_list_with_workloads(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        agent = make_agent(db)
        ticket = make_ticket(db, make_customer(db))
        assign(db, admin, ticket.id, agent)
        browser = Browser(client, db, admin)
        listed = assign_list(browser.get(f"/desk/tickets/{ticket.id}"))
        assert 'hx-get="/desk/assignees"' in listed and " open)" not in listed
        assert f'<option value="{agent.id}" selected>{agent.actor.name}</option>' in listed

        # htmx sends the choice on screen, which stays chosen.
        loaded = browser.get(f"/desk/assignees?assignee={admin.id}")
        assert "hx-get" not in loaded
        assert f'<option value="{agent.id}">{agent.actor.name} (1 open)</option>' in loaded
        assert f'<option value="{admin.id}" selected>{admin.actor.name} (0 open)</option>' in loaded

        refreshed = assign_list(browser.client.get(f"/desk/tickets/{ticket.id}", headers=LIVE).text)
        assert f'<option value="{agent.id}" selected>{agent.actor.name} (1 open)</option>' in refreshed
        assert "hx-get" not in refreshed

    def test_customers_get_no_workloads(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        make_ticket(db, customer)
        response = Browser(client, db, customer).client.get("/desk/assignees", follow_redirects=False)
        assert response.status_code == 403
