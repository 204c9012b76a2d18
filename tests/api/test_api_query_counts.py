"""The API's main reads cost a fixed number of SQL statements, however many tickets a page holds
or messages a ticket has (no N+1)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.factories import (
    Persona,
    assign,
    make_admin,
    make_agent,
    make_customer,
    make_message,
    make_ticket,
    watch,
)
from tests.web.test_query_counts import counting

from ticketry.core.db import Database

TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"})
# After authentication (`auth`): the page with its tickets' tags (customers are not shown tags);
# its total was counted by the request before (`statements` warms up; tests/api/test_list_totals.py).
LIST_STATEMENTS = 1
# The ticket with its department, category and people, then its files, and for staff its tags
# and watchers (customers are shown neither).
DETAIL_STATEMENTS = 2
DETAIL_STAFF_STATEMENTS = 2
# The ticket (access), the messages with their authors, their files.
REPLIES_STATEMENTS = 3


def auth(persona: Persona) -> int:
    """The token with its user, the user's departments and organization's sharing flag: one
    query, for anyone."""
    return 1


def statements(client: TestClient, db: Database, url: str, persona: Persona) -> int:
    client.get(url, headers=persona.headers)  # warm: first-request caches
    with counting(db) as counter:
        response = client.get(url, headers=persona.headers)
    assert response.status_code == 200, response.text
    # SQLite's read units open with an explicit BEGIN; only queries count.
    return sum(1 for sql in counter.statements if sql.split()[0].upper() not in TRANSACTION_CONTROL)


def worked(client: TestClient, db: Database, admin: Persona, agent: Persona, ticket_id: int) -> None:
    """Tags, an assignee and watchers: everything a view loads per ticket."""
    response = client.patch(
        f"/api/v1/tickets/{ticket_id}", json={"tags": [f"t{ticket_id}", "shared"]}, headers=agent.headers
    )
    assert response.status_code == 200, response.text
    assign(db, admin, ticket_id, agent)
    watch(db, ticket_id, make_agent(db))


class TestList:
    def test_a_page_costs_the_same_however_many_tickets_it_holds(
        self, client: TestClient, db: Database
    ) -> None:
        admin = make_admin(db)
        agent = make_agent(db, departments=("technical",))
        customer = make_customer(db)
        ids = [make_ticket(db, customer, title=f"Ticket {n}").id for n in range(25)]
        for ticket_id in ids[:2]:
            worked(client, db, admin, agent, ticket_id)
        small = "/api/v1/tickets?page_size=2&sort=number&order=asc"
        big = "/api/v1/tickets?page_size=25"
        for ticket_id in ids[2:]:
            worked(client, db, admin, agent, ticket_id)

        for persona in (agent, customer):
            counts = [statements(client, db, url, persona) for url in (small, big)]
            assert counts == [auth(persona) + LIST_STATEMENTS] * 2, persona.email
        assert len(client.get(big, headers=agent.headers).json()["data"]) == 25


class TestDetail:
    def test_a_ticket_costs_the_same_however_worked_it_is(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        agent = make_agent(db, departments=("technical",))
        customer = make_customer(db)
        plain = make_ticket(db, customer).id
        busy = make_ticket(db, customer).id
        worked(client, db, admin, agent, busy)
        for _ in range(3):
            watch(db, busy, make_agent(db))

        for persona in (agent, customer):
            counts = [statements(client, db, f"/api/v1/tickets/{i}", persona) for i in (plain, busy)]
            staff = DETAIL_STAFF_STATEMENTS if persona.actor.is_staff else 0
            assert counts == [auth(persona) + DETAIL_STATEMENTS + staff] * 2, persona.email

    def test_a_watcher_outside_the_department_costs_one_lookup_more(
        self, client: TestClient, db: Database
    ) -> None:
        watcher = make_agent(db, departments=("billing",))
        ticket_id = make_ticket(db, make_customer(db)).id
        watch(db, ticket_id, watcher)

        assert (
            statements(client, db, f"/api/v1/tickets/{ticket_id}", watcher)
            == auth(watcher) + DETAIL_STATEMENTS + DETAIL_STAFF_STATEMENTS + 1
        )


class TestReplies:
    def test_a_conversation_costs_the_same_however_long_it_is(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db, departments=("technical",))
        customer = make_customer(db)
        short = make_ticket(db, customer).id
        long = make_ticket(db, customer).id
        make_message(db, customer, short, body="Hello")
        for n in range(12):
            author = (customer, agent)[n % 2]
            make_message(db, author, long, body=f"Message {n}", internal=author is agent and n % 4 == 1)

        for persona in (agent, customer):
            counts = [statements(client, db, f"/api/v1/tickets/{i}/replies", persona) for i in (short, long)]
            assert counts == [auth(persona) + REPLIES_STATEMENTS] * 2, persona.email
