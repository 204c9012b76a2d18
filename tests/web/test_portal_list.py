"""The portal's list of the customer's own tickets (`search.customer_rows`): what it shows, in the
order they were opened, and its pages."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from tests.factories import make_agent, make_customer, make_message, make_ticket, web_session

from ticketry.core.db import Database


def _numbers(html: str) -> list[str]:
    return re.findall(r'<span class="number">([^<]+)</span>', html)


def test_the_list_names_each_own_ticket_with_its_department(client: TestClient, db: Database) -> None:
    customer, stranger = make_customer(db), make_customer(db)
    mine = make_ticket(db, customer, title="Invoice twice", department="billing")
    theirs = make_ticket(db, stranger, title="Somebody else's printer")
    client.cookies.set("ticketry_session", web_session(db, customer)[0])

    page = client.get("/?tab=all")

    assert page.status_code == 200, page.text[:500]
    assert _numbers(page.text) == [mine.number]
    assert "Invoice twice" in page.text
    assert "Billing" in page.text
    assert theirs.number not in page.text
    assert "Somebody else" not in page.text


def test_newest_first_whatever_happens_to_the_older_ones(client: TestClient, db: Database) -> None:
    customer, agent = make_customer(db), make_agent(db)
    older = make_ticket(db, customer, title="Older")
    newer = make_ticket(db, customer, title="Newer")
    client.cookies.set("ticketry_session", web_session(db, customer)[0])

    make_message(db, agent, older.id, body="Staff only: check the logs.", internal=True)
    make_message(db, agent, older.id, body="We are on it.")

    assert _numbers(client.get("/?tab=all").text) == [newer.number, older.number]


def test_twenty_one_tickets_make_two_pages(client: TestClient, db: Database) -> None:
    customer = make_customer(db)
    made = [make_ticket(db, customer, title=f"Ticket {n}") for n in range(21)]
    client.cookies.set("ticketry_session", web_session(db, customer)[0])

    first = _numbers(client.get("/?tab=all").text)
    second = _numbers(client.get("/?tab=all&page=2").text)

    assert len(first) == 20
    assert second == [made[0].number]  # the oldest, last
    assert set(first) | set(second) == {ticket.number for ticket in made}
