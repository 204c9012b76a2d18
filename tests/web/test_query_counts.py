"""The desk's pages cost a fixed number of SQL statements, however many rows they show (no N+1)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event
from tests.factories import PASSWORD, Persona, make_agent, make_customer, make_message, make_ticket

from ticketry.core.db import Database


class StatementCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []


@contextmanager
def counting(db: Database) -> Iterator[StatementCounter]:
    counter = StatementCounter()

    def before_cursor_execute(*args: Any) -> None:
        counter.statements.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield counter
    finally:
        event.remove(db.engine, "before_cursor_execute", before_cursor_execute)


def sign_in(client: TestClient, persona: Persona) -> None:
    """Like a browser: the form first (its pre-sign-in CSRF cookie and field), then the POST."""
    form = client.get("/login")
    assert form.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert token, form.text
    response = client.post(
        "/login",
        data={"email": persona.email, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert "ticketry_session" in client.cookies


def statements_for(client: TestClient, db: Database, url: str) -> int:
    """Apart from a list's total, which a short first page does not need (its rows are all
    there is); tests/web/test_page_query_counts.py pins that one too."""
    with counting(db) as counter:
        response = client.get(url)
    assert response.status_code == 200, response.text
    return sum(not s.lstrip().lower().startswith("select count(") for s in counter.statements)


def _report(counter_small: int, counter_big: int, what: str) -> str:
    return f"{what}: {counter_small} statements for the small page, {counter_big} for the big one"


def test_desk_list_statements_do_not_grow_with_tickets(client: TestClient, db: Database) -> None:
    agent = make_agent(db)
    customers = [make_customer(db) for _ in range(5)]
    for n in range(5):
        make_ticket(db, customers[n % 5], title=f"Ticket {n}")
    sign_in(client, agent)
    statements_for(client, db, "/desk?view=all")  # warm: first-request caches
    small = statements_for(client, db, "/desk?view=all")

    for n in range(5, 25):
        make_ticket(db, customers[n % 5], title=f"Ticket {n}")
    big = statements_for(client, db, "/desk?view=all")
    page = client.get("/desk?view=all").text
    assert page.count("data-row") == 25
    assert big <= small, _report(small, big, "GET /desk")


def test_desk_ticket_statements_do_not_grow_with_messages(client: TestClient, db: Database) -> None:
    agent = make_agent(db)
    other_agent = make_agent(db)
    customer = make_customer(db)
    few = make_ticket(db, customer, title="Few messages")
    many = make_ticket(db, customer, title="Many messages")
    authors = [customer, agent, other_agent]
    for n in range(2):
        make_message(db, authors[n % 3], few.id, body=f"Message {n}", internal=n % 3 == 2)
    for n in range(10):
        make_message(db, authors[n % 3], many.id, body=f"Message {n}", internal=n % 3 == 2)
    sign_in(client, agent)
    statements_for(client, db, f"/desk/tickets/{few.id}")  # warm
    small = statements_for(client, db, f"/desk/tickets/{few.id}")
    big = statements_for(client, db, f"/desk/tickets/{many.id}")
    page = client.get(f"/desk/tickets/{many.id}").text
    assert page.count('class="message ') >= 11  # the description and ten messages
    assert big <= small, _report(small, big, "GET /desk/tickets/{id}")
