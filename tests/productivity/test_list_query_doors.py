"""One reader of the ticket list's query string (issue 14, B.3): the API list, its CSV export and
saved views, and the desk's list, CSV export and "Save view" read the same names with the same
bounds, so a bad value gets the same clear refusal from every door (422 with the message in the
API, the message on the page in the desk, never a 500) and nothing is saved."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from tests.factories import Persona, make_agent, make_customer, make_ticket
from tests.mail_admin import Browser, flash
from ticketry.core.db import Database
from ticketry.search.models import SavedView

STATUSES = "open, answered, waiting_for_response, on_hold, in_progress, resolved, closed"
# Each bad input, and what every door says about it.
BAD = {
    "unknown status": ("status=pending", f"Unknown status: use one of {STATUSES}."),
    "page 0": ("page=0", "'page' is a whole number from 1 to 100000."),
    "page size over the bound": ("page_size=101", "'page_size' is a whole number from 1 to 100."),
    "overlong search": ("q=" + "x" * 201, "'q' is at most 200 characters."),
    # The API and the desk list refuse it before reading the list (every query string of the app,
    # issue 12); saved views and the desk's export, which carry the list's query inside a field,
    # when they read it. Either way the message names control characters.
    "NUL": ("q=a%00b", "control characters"),
    "not a date": ("created_from=yesterday", "'created_from' is a date (YYYY-MM-DD) or a date and time"),
    "unknown assignee": ("assigned_to=someone", "'assigned_to' is an agent id, 'me' or 'none'."),
    "unknown order": ("order=sideways", "Unknown order: use one of asc, desc."),
    "too many tags": ("&".join(["tag=a"] * 51), "At most 50 values for 'tag'."),
}

Door = Callable[[TestClient, Database, Persona, str], str]


def _api_error(response: Response) -> str:
    assert response.status_code == 422, response.text[:300]
    assert response.json()["error"]["code"] == "validation_error"
    return response.text


def api_list(client: TestClient, db: Database, agent: Persona, query: str) -> str:
    return _api_error(client.get(f"/api/v1/tickets?{query}", headers=agent.headers))


def api_export_csv(client: TestClient, db: Database, agent: Persona, query: str) -> str:
    return _api_error(client.get(f"/api/v1/tickets/export.csv?{query}", headers=agent.headers))


def api_save_view(client: TestClient, db: Database, agent: Persona, query: str) -> str:
    body = {"name": "Broken", "query": query}
    return _api_error(client.post("/api/v1/views", json=body, headers=agent.headers))


def _page_text(response: Response) -> str:
    """What the person sees: the page's text, entities decoded."""
    assert response.status_code == 422, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    return html.unescape(response.text)


def desk_list(client: TestClient, db: Database, agent: Persona, query: str) -> str:
    browser = Browser(client, db, agent)
    return _page_text(browser.client.get(f"/desk?view=all&{query}"))


def desk_export_csv(client: TestClient, db: Database, agent: Persona, query: str) -> str:
    browser = Browser(client, db, agent)
    return _page_text(browser.client.get(f"/desk/export.csv?list={quote(query)}&columns=title"))


def desk_save_view(client: TestClient, db: Database, agent: Persona, query: str) -> str:
    browser = Browser(client, db, agent)
    page = browser.post("/desk/views", {"name": "Broken", "query": query}, back="/desk?view=all")
    said = flash(page)
    assert said.startswith("error: "), said
    return said


DOORS: dict[str, Door] = {
    "API list": api_list,
    "API CSV export": api_export_csv,
    "API saved view": api_save_view,
    "desk list": desk_list,
    "desk CSV export": desk_export_csv,
    "desk saved view": desk_save_view,
}


@pytest.fixture
def agent(db: Database) -> Persona:
    agent = make_agent(db)
    make_ticket(db, make_customer(db), title="Printer on fire")
    return agent


def saved_views(db: Database) -> int:
    with db.unit_of_work(write=False) as session:
        return session.scalar(select(func.count()).select_from(SavedView)) or 0


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize("bad", BAD)
def test_every_door_refuses_a_bad_value_alike(
    client: TestClient, db: Database, agent: Persona, door: str, bad: str
) -> None:
    query, said = BAD[bad]
    shown = DOORS[door](client, db, agent, query)
    assert said.lower() in shown.lower(), shown[:2000]
    assert saved_views(db) == 0


@pytest.mark.parametrize("bad", [name for name in BAD if name != "NUL"])
def test_the_api_doors_answer_the_same_body(
    client: TestClient, db: Database, agent: Persona, bad: str
) -> None:
    query, _ = BAD[bad]
    bodies = {door: DOORS[door](client, db, agent, query) for door in DOORS if door.startswith("API")}
    assert len(set(bodies.values())) == 1, bodies


class TestTheDeskList:
    def test_a_bad_filter_shows_the_view_says_why_and_keeps_the_form(
        self, client: TestClient, db: Database, agent: Persona
    ) -> None:
        browser = Browser(client, db, agent)
        response = browser.client.get("/desk?view=all&status=pending&q=printer&assigned_to=me")
        assert response.status_code == 422
        page = html.unescape(response.text)
        assert f"This filter was not applied: Unknown status: use one of {STATUSES}." in page
        assert "Printer on fire" in page  # the view, without the filter that does not read
        assert 'name="q" maxlength="200" value="printer"' in page  # what was typed, to correct
        assert re.search(r'<option value="me" selected>Me</option>', page)
        assert "Clear filters" in page

    def test_htmx_gets_the_reason_in_the_results_it_swaps(
        self, client: TestClient, db: Database, agent: Persona
    ) -> None:
        browser = Browser(client, db, agent)
        headers = {"HX-Request": "true", "HX-Target": "results"}
        response = browser.client.get("/desk?view=all&page_size=500", headers=headers)
        assert response.status_code == 422
        results = html.unescape(response.text)
        assert results.lstrip().startswith('<div id="results"')
        assert "This filter was not applied: 'page_size' is a whole number from 1 to 100." in results

    def test_the_page_size_and_page_are_read_like_the_apis(
        self, client: TestClient, db: Database, agent: Persona
    ) -> None:
        customer = make_customer(db)
        for number in range(3):
            make_ticket(db, customer, title=f"Paged {number}")
        browser = Browser(client, db, agent)
        page = browser.get("/desk?view=all&q=paged&sort=number&order=asc&page_size=2&page=2")
        assert "Paged 2" in page and "Paged 0" not in page and "Paged 1" not in page
        assert "page_size=2" in page  # the page links keep it
