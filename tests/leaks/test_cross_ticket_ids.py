"""Ids of one ticket's things passed with another ticket's id (security review of issue 6): a
message of a ticket the agent cannot see, addressed through a ticket they can, is 404 on every
new path, and nothing changes."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import api_ticket, make_admin, make_agent, make_customer, web_session
from ticketry.core.db import Database
from ticketry.messages.models import Message, MessageRevision
from ticketry.tickets.models import Ticket

SECRET = "billingsecretword"


def test_another_tickets_message_is_not_found_through_a_visible_ticket(
    client: TestClient, db: Database
) -> None:
    admin, agent = make_admin(db), make_agent(db, departments=("technical",))
    tech = api_ticket(client, make_customer(db), title="Tech", department="technical")
    billing = api_ticket(client, make_customer(db), title="Billing", department="billing")
    reply = client.post(
        f"/api/v1/tickets/{billing['id']}/replies", json={"message": f"A {SECRET}."}, headers=admin.headers
    )
    assert reply.status_code == 201, reply.text
    message_id = reply.json()["id"]
    base = f"/api/v1/tickets/{tech['id']}/replies/{message_id}"
    for response in (
        client.get(base, headers=agent.headers),
        client.get(f"{base}/revisions", headers=agent.headers),
        client.patch(base, json={"body": "overwritten"}, headers=agent.headers),
        client.patch(base, json={"body": "overwritten"}, headers=admin.headers),  # even edit_any
        client.post(
            f"/api/v1/tickets/{tech['id']}/split", json={"messageIds": [message_id]}, headers=agent.headers
        ),
        client.post(
            f"/api/v1/tickets/{tech['id']}/merge", json={"ticketIds": [billing["id"]]}, headers=agent.headers
        ),
        client.post(
            f"/api/v1/tickets/{billing['id']}/merge", json={"ticketIds": [tech["id"]]}, headers=agent.headers
        ),
    ):
        assert response.status_code == 404, response.text
        assert SECRET not in response.text
    cookie, csrf = web_session(db, agent)
    client.cookies.set("ticketry_session", cookie)
    desk = f"/desk/tickets/{tech['id']}/messages/{message_id}"
    assert client.get(f"{desk}/revisions").status_code == 404
    edited = client.post(
        f"{desk}/edit", data={"body": "overwritten", "csrf_token": csrf}, follow_redirects=False
    )
    assert edited.status_code == 303 and SECRET not in edited.text
    with db.unit_of_work(write=False) as session:
        message = session.get(Message, message_id)
        assert message is not None and message.ticket_id == billing["id"] and SECRET in message.body
        assert (
            session.scalar(select(MessageRevision.id).where(MessageRevision.message_id == message_id)) is None
        )
        both = session.scalars(select(Ticket).where(Ticket.id.in_([tech["id"], billing["id"]]))).all()
        assert all(t.merged_into_id is None for t in both)
