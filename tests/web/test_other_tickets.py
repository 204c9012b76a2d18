"""The ticket page's "other tickets" of the customer (issue 13: a light panel): their number,
title and status only, the newest five, counted to a cap ("Other tickets (99+)")."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from tests.factories import make_agent, make_customer, make_ticket
from tests.mail_admin import Browser

from ticketry.core.db import Database
from ticketry.web import desk


def test_other_tickets_are_counted_to_a_cap(
    client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(desk, "OTHER_TICKETS_CAP", 8)
    agent = make_agent(db)
    customer = make_customer(db)
    tickets = [make_ticket(db, customer, title=f"Printer {n}") for n in range(10)]
    page = Browser(client, db, agent).get(f"/desk/tickets/{tickets[0].id}")
    assert "Other tickets (7+)" in page
    assert page.count('<li><a href="/desk/tickets/') == 5
    assert (
        "Printer 9" in page
        and "Printer 4" not in page
        and f'/desk/tickets/{tickets[0].id}">' not in page.split("Other tickets")[1]
    )

    few = make_customer(db)
    alone = [make_ticket(db, few, title=f"Scanner {n}") for n in range(2)]
    page = Browser(client, db, agent).get(f"/desk/tickets/{alone[0].id}")
    assert "Other tickets (1)" in page and "Scanner 1" in page


@pytest.mark.parametrize(("tickets", "shown"), [(8, "Other tickets (7)"), (9, "Other tickets (7+)")])
def test_other_tickets_at_the_cap(
    client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch, tickets: int, shown: str
) -> None:
    """The panel's rows and its count are one walk of at most cap + 1 tickets: the count is
    exact up to the cap, and "+" only past it."""
    monkeypatch.setattr(desk, "OTHER_TICKETS_CAP", 8)
    agent, customer = make_agent(db), make_customer(db)
    made = [make_ticket(db, customer, title=f"Toner {n}") for n in range(tickets)]
    page = Browser(client, db, agent).get(f"/desk/tickets/{made[-1].id}")
    assert shown in page
    assert page.count('<li><a href="/desk/tickets/') == 5
