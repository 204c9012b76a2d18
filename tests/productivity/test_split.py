"""Split (issue 6 part 6): exactly the chosen messages move to a new ticket of the same customer."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import make_agent, make_customer, make_message, make_ticket
from tests.productivity.threads_scene import ok, worked_pair
from ticketry.attachments.models import Attachment
from ticketry.core.db import Database
from ticketry.history.models import TicketEvent
from ticketry.messages.models import Message
from ticketry.tickets.models import LinkKind, Ticket, TicketLink


class TestSplit:
    def test_exactly_the_chosen_messages_move_with_their_files(
        self, client: TestClient, db: Database
    ) -> None:
        pair = worked_pair(client, db)
        with db.unit_of_work(write=False) as session:
            before = {m.id: m.ticket_id for m in session.scalars(select(Message))}
        chosen = [pair.secondary_reply_id, pair.secondary_note_id]
        new = ok(
            client.post(
                f"/api/v1/tickets/{pair.secondary_id}/split",
                json={"messageIds": chosen, "title": "Client version problem"},
                headers=pair.agent.headers,
            ),
            201,
        )
        assert new["title"] == "Client version problem" and new["status"] == "open"
        with db.unit_of_work(write=False) as session:
            after = {m.id: (m.ticket_id, m.moved_from_ticket_id) for m in session.scalars(select(Message))}
            source = session.get(Ticket, pair.secondary_id)
            ticket = session.get(Ticket, new["id"])
            assert source is not None and ticket is not None
            assert (ticket.customer_id, ticket.department_id, ticket.priority, ticket.category_id) == (
                source.customer_id,
                source.department_id,
                source.priority,
                source.category_id,
            )
            files = {a.filename: a.ticket_id for a in session.scalars(select(Attachment))}
            link = session.scalars(select(TicketLink)).one()
            events = {(e.ticket_id, e.field) for e in session.scalars(select(TicketEvent))}
        for message_id, ticket_id in before.items():
            if message_id in chosen:
                assert after[message_id] == (new["id"], pair.secondary_id)
            else:
                assert after[message_id] == (ticket_id, None), "the others stay where they were"
        assert files["steps.txt"] == new["id"] and files["internal.txt"] == new["id"]
        assert files["screenshot.txt"] == pair.secondary_id, "the description's file stays"
        assert (link.source_id, link.target_id, link.kind) == (pair.secondary_id, new["id"], LinkKind.RELATED)
        assert (new["id"], "split_from") in events and (pair.secondary_id, "split_into") in events
        assert new["firstResponseAt"] is not None, "a public staff reply moved with it"
        note = ok(client.get(f"/api/v1/tickets/{new['id']}/replies", headers=pair.secondary_customer.headers))
        assert [m["id"] for m in note["data"]] == [pair.secondary_reply_id], "the moved note stays staff-only"

    def test_messages_of_another_ticket_are_refused(self, client: TestClient, db: Database) -> None:
        customer, agent = make_customer(db), make_agent(db)
        one, two = make_ticket(db, customer), make_ticket(db, customer)
        foreign = make_message(db, customer, two.id)
        response = client.post(
            f"/api/v1/tickets/{one.id}/split", json={"messageIds": [foreign.id]}, headers=agent.headers
        )
        assert response.status_code == 404 and response.json()["error"]["code"] == "message_not_found"
        with db.unit_of_work(write=False) as session:
            assert len(session.scalars(select(Ticket)).all()) == 2, "nothing was created"

    def test_nothing_chosen_or_customer_is_refused(self, client: TestClient, db: Database) -> None:
        customer, agent = make_customer(db), make_agent(db)
        ticket = make_ticket(db, customer)
        message = make_message(db, customer, ticket.id)
        url = f"/api/v1/tickets/{ticket.id}/split"
        assert client.post(url, json={"messageIds": []}, headers=agent.headers).status_code == 422
        assert (
            client.post(url, json={"messageIds": [message.id]}, headers=customer.headers).status_code == 403
        )
        stranger = make_customer(db)
        assert (
            client.post(url, json={"messageIds": [message.id]}, headers=stranger.headers).status_code == 404
        )

    def test_the_new_ticket_is_numbered_like_any_other(self, client: TestClient, db: Database) -> None:
        customer, agent = make_customer(db), make_agent(db)
        ticket = make_ticket(db, customer)
        message = make_message(db, customer, ticket.id)
        new = ok(
            client.post(
                f"/api/v1/tickets/{ticket.id}/split", json={"messageIds": [message.id]}, headers=agent.headers
            ),
            201,
        )
        assert new["number"] != ticket.number and new["number"].split("-")[:2] == ticket.number.split("-")[:2]
        assert new["title"] == f"Split from {ticket.number}: {ticket.title}"
