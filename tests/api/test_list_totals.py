"""A list's total beyond one page is counted once for the same reader and list within
`search.service.TOTAL_MAX_AGE` seconds (docs/api.md, "Totals"), and counted again whenever the
page being read shows the remembered total is out of date."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.factories import Persona, make_agent, make_customer, make_ticket
from tests.web.test_query_counts import counting

from ticketry.core.db import Database
from ticketry.search import service as search

LIST = "/api/v1/tickets?page_size=2"


def counts(db: Database, client: TestClient, persona: Persona, url: str) -> tuple[int, int]:
    """The list's total, and how many statements counted it."""
    with counting(db) as counter:
        response = client.get(url, headers=persona.headers)
    assert response.status_code == 200, response.text
    counted = sum(1 for sql in counter.statements if "count(*)" in sql.lower())
    return response.json()["pagination"]["total"], counted


def test_the_same_reader_and_list_are_counted_once(client: TestClient, db: Database) -> None:
    agent, other = make_agent(db), make_agent(db)
    customer = make_customer(db)
    for number in range(3):
        make_ticket(db, customer, title=f"Ticket {number}")

    assert counts(db, client, agent, LIST) == (3, 1)
    assert counts(db, client, agent, LIST) == (3, 0)  # a refresh
    assert counts(db, client, agent, LIST + "&sort=number") == (3, 0)  # the order is not the list
    assert counts(db, client, agent, LIST + "&priority=high") == (0, 0)  # another list: no page of it is full
    assert counts(db, client, agent, LIST + "&status=open") == (3, 1)  # another list
    assert counts(db, client, other, LIST) == (3, 1)  # another reader


def test_a_page_showing_more_than_the_total_counts_again(client: TestClient, db: Database) -> None:
    agent = make_agent(db)
    customer = make_customer(db)
    for number in range(3):
        make_ticket(db, customer, title=f"Ticket {number}")
    assert counts(db, client, agent, LIST) == (3, 1)

    for number in range(3, 6):
        make_ticket(db, customer, title=f"Ticket {number}")
    # The second page is full: the 3 remembered are fewer than the 4 it reaches.
    assert counts(db, client, agent, LIST + "&page=2") == (6, 1)
    assert counts(db, client, agent, LIST) == (6, 0)


def test_an_older_total_is_counted_again(
    client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search._recent_totals, "max_age", 0.0)
    agent = make_agent(db)
    customer = make_customer(db)
    for number in range(3):
        make_ticket(db, customer, title=f"Ticket {number}")
    assert counts(db, client, agent, LIST) == (3, 1)
    make_ticket(db, customer, title="One more")
    assert counts(db, client, agent, LIST) == (4, 1)
