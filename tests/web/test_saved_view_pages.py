"""Saved views in the desk pages: a view opens exactly the list its filter shows, the "filter
differs" offer appears only when the filter really differs, and a view whose filter stopped
reading stays in the sidebar with a warning instead of breaking it."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from tests.factories import Persona, make_agent, make_customer, make_ticket
from tests.mail_admin import Browser

from ticketry.core.db import Database
from ticketry.search.models import SavedView
from ticketry.tickets.models import Priority

ROW = re.compile(r"<tr[^>]*data-row[^>]*>.*?</tr>", re.S)
DIFFERS = "The filter differs from the saved view."


@pytest.fixture
def agent(db: Database) -> Persona:
    return make_agent(db, departments=("technical",))


def rows(page: str) -> list[str]:
    """The list's ticket rows (their numbers and titles), in order."""
    found = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip() for row in ROW.findall(page)]
    return found


def save(client: TestClient, who: Persona, query: str, name: str = "Mine") -> int:
    response = client.post("/api/v1/views", json={"name": name, "query": query}, headers=who.headers)
    assert response.status_code == 201, response.text
    view_id: int = response.json()["id"]
    return view_id


def test_opening_a_view_shows_the_same_tickets_as_its_filter(
    client: TestClient, db: Database, agent: Persona
) -> None:
    customer = make_customer(db)
    for title, priority in [("Fire A", Priority.URGENT), ("Calm", Priority.LOW), ("Fire B", Priority.URGENT)]:
        make_ticket(db, customer, title=title, department="technical", priority=priority)
    query = "view=all&priority=urgent&sort=created_at&order=asc"
    view_id = save(client, agent, query)
    browser = Browser(client, db, agent)
    by_filter = rows(browser.get(f"/desk?{query}"))
    by_view = rows(browser.get(f"/desk?{query}&saved={view_id}"))
    assert len(by_filter) == 2 and "Fire A" in by_filter[0] and "Fire B" in by_filter[1]
    assert by_view == by_filter


def test_the_update_offer_shows_only_when_the_filter_really_differs(
    client: TestClient, db: Database, agent: Persona
) -> None:
    """The filter form sends its defaults too (tag_mode, sort, order, empty fields): the same
    filter written out in full is still the saved view, not a change to it."""
    view_id = save(client, agent, "view=all&priority=urgent")
    browser = Browser(client, db, agent)
    assert DIFFERS not in browser.get(f"/desk?view=all&priority=urgent&saved={view_id}")
    spelled_out = (
        "view=all&q=&status=&priority=urgent&department=&assignee=&tag_mode=all"
        f"&sort=updated_at&order=desc&saved={view_id}"
    )
    assert DIFFERS not in browser.get(f"/desk?{spelled_out}")
    assert DIFFERS in browser.get(f"/desk?view=all&priority=high&saved={view_id}")
    assert DIFFERS in browser.get(f"/desk?view=all&priority=urgent&order=asc&saved={view_id}")
    # "Recently updated" is worked out from now: the same view a moment later is still the same.
    recent = save(client, agent, "view=recent", name="Recent")
    assert DIFFERS not in browser.get(f"/desk?view=recent&sort=updated_at&saved={recent}")
    assert DIFFERS in browser.get(f"/desk?view=all&saved={recent}")


def test_a_view_that_stopped_reading_stays_in_the_sidebar_with_a_warning(
    client: TestClient, db: Database, agent: Persona
) -> None:
    good = save(client, agent, "view=all", name="Everything")
    broken = save(client, agent, "view=all", name="Archived ones")
    with db.unit_of_work() as session:  # as if its filter had stopped reading since it was saved
        stored = session.get(SavedView, broken)
        assert stored is not None
        stored.query = "view=all&status=archived"
    browser = Browser(client, db, agent)
    counts = browser.get("/desk/views/counts")
    assert f"saved={good}" in counts and f"saved={broken}" in counts
    entry = counts[counts.index(f"saved={broken}") :]
    entry = entry[: entry.index("</li>")]
    assert "\u2013" in entry and "status" in entry.lower()
    assert 'class="view-problem"' in entry
    managed = browser.get("/desk/views")
    assert "Archived ones" in managed and "Everything" in managed
