"""Merging two customers' tickets (issue 12 item 8; docs/product.md §1 "own tickets only", §3 "only with an
explicit confirmation"). The attack class is CWE-639 (authorisation bypass through a key the user
controls): an agent typing a wrong number merged another customer's ticket, and each customer then
read the other's private replies and files, without a word of warning."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import make_agent, make_customer, make_message, make_ticket
from ticketry.core.db import Database
from ticketry.messages.models import Message
from ticketry.tickets.models import Ticket, TicketMerge


def merges(db: Database) -> list[TicketMerge]:
    with db.unit_of_work(write=False) as session:
        return list(session.scalars(select(TicketMerge)))


class TestMergeAcrossCustomers:
    def test_without_the_confirmation_nothing_moves_and_the_answer_names_the_tickets(
        self, client: TestClient, db: Database
    ) -> None:
        alice, bob, agent = make_customer(db), make_customer(db), make_agent(db)
        primary = make_ticket(db, alice, title="Alice")
        secret = make_ticket(db, bob, title="Bob")
        make_message(db, bob, secret.id, body="My account number is 1234.")
        response = client.post(
            f"/api/v1/tickets/{primary.id}/merge", json={"ticketIds": [secret.id]}, headers=agent.headers
        )
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert error["code"] == "customers_differ" and error["details"]["numbers"] == [secret.number]
        assert merges(db) == []
        with db.unit_of_work(write=False) as session:
            homes = set(session.scalars(select(Message.ticket_id)))
            assert homes == {secret.id}
            reloaded = session.get(Ticket, secret.id)
            assert reloaded is not None and reloaded.merged_into_id is None
        replies = client.get(f"/api/v1/tickets/{primary.id}/replies", headers=alice.headers).json()
        assert replies["data"] == []

    def test_one_other_customer_among_several_refuses_them_all(
        self, client: TestClient, db: Database
    ) -> None:
        alice, bob, agent = make_customer(db), make_customer(db), make_agent(db)
        primary, own, other = make_ticket(db, alice), make_ticket(db, alice), make_ticket(db, bob)
        response = client.post(
            f"/api/v1/tickets/{primary.id}/merge",
            json={"ticketIds": [own.id, other.id]},
            headers=agent.headers,
        )
        assert response.status_code == 409 and merges(db) == []

    def test_with_the_confirmation_the_merge_happens(self, client: TestClient, db: Database) -> None:
        alice, bob, agent = make_customer(db), make_customer(db), make_agent(db)
        primary, other = make_ticket(db, alice), make_ticket(db, bob)
        response = client.post(
            f"/api/v1/tickets/{primary.id}/merge",
            json={"ticketIds": [other.id], "confirmDifferentCustomers": True},
            headers=agent.headers,
        )
        assert response.status_code == 201, response.text
        assert len(merges(db)) == 1

    def test_the_same_customers_duplicates_need_no_second_confirmation(
        self, client: TestClient, db: Database
    ) -> None:
        alice, agent = make_customer(db), make_agent(db)
        primary, duplicate = make_ticket(db, alice), make_ticket(db, alice)
        response = client.post(
            f"/api/v1/tickets/{primary.id}/merge", json={"ticketIds": [duplicate.id]}, headers=agent.headers
        )
        assert response.status_code == 201, response.text
