"""The ticket page's "other tickets of this customer" (issue 13's light panel, `search.brief_tickets`)
names only tickets the agent may read: a customer's tickets in another department stay out of the
list and out of its count, as they do out of the agent's desk list."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.factories import make_agent, make_customer, make_ticket
from tests.mail_admin import Browser
from ticketry.core.db import Database


def test_an_agent_sees_only_the_customer_s_tickets_in_their_departments(
    client: TestClient, db: Database
) -> None:
    agent = make_agent(db, departments=("technical",))
    customer = make_customer(db)
    here = make_ticket(db, customer, title="Printer jam", department="technical")
    make_ticket(db, customer, title="Toner low", department="technical")
    make_ticket(db, customer, title="Invoice 4711 disputed", department="billing")
    make_ticket(db, customer, title="Refund for order 99", department="billing")

    page = Browser(client, db, agent).get(f"/desk/tickets/{here.id}")
    panel = page.split("Other tickets", 1)[1].split("All their tickets", 1)[0]
    assert "Toner low" in panel
    assert "Invoice 4711" not in page and "Refund for order" not in page
    assert "Other tickets (1)" in page
