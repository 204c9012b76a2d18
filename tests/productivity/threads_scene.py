"""Two worked tickets to merge, and a full picture of their rows to compare before and after."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import Persona, make_admin, make_agent, make_customer, watch
from ticketry.attachments.models import Attachment
from ticketry.core.db import Database
from ticketry.messages.models import Message
from ticketry.tickets.models import Ticket, ticket_tags, ticket_watchers

# Columns a merge and its undo may touch without changing what the ticket is.
IGNORED = frozenset({"updated_at", "updated_by_id", "version", "public_updated_at", "public_version"})


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


@dataclass(frozen=True)
class Pair:
    agent: Persona
    admin: Persona
    primary_customer: Persona
    secondary_customer: Persona
    primary_id: int
    secondary_id: int
    secondary_reply_id: int
    secondary_note_id: int


def worked_pair(client: TestClient, db: Database, *, same_customer: bool = False) -> Pair:
    """A primary and a secondary ticket, each with replies, a note, files, tags and watchers; the
    secondary answered, then put on hold with a reason."""
    agent = make_agent(db)
    watcher = make_agent(db)
    admin = make_admin(db)
    primary_customer = make_customer(db)
    secondary_customer = primary_customer if same_customer else make_customer(db)
    primary = ok(
        client.post(
            "/api/v1/tickets",
            json={"title": "VPN down", "description": "Cannot connect.", "department": "technical"},
            headers=primary_customer.headers,
        ),
        201,
    )
    secondary = ok(
        client.post(
            "/api/v1/tickets",
            data={"title": "VPN broken", "description": "Since today.", "department": "technical"},
            files=[("files", ("screenshot.txt", b"error 809\n", "text/plain"))],
            headers=secondary_customer.headers,
        ),
        201,
    )
    p, s = f"/api/v1/tickets/{primary['id']}", f"/api/v1/tickets/{secondary['id']}"
    ok(client.patch(p, json={"tags": ["vpn", "network"]}, headers=agent.headers))
    ok(client.patch(s, json={"tags": ["vpn", "duplicate-candidate"]}, headers=agent.headers))
    ok(client.post(f"{p}/replies", json={"message": "Looking into it."}, headers=agent.headers), 201)
    reply = ok(
        client.post(
            f"{s}/replies",
            data={"message": "Which client version?"},
            files=[("files", ("steps.txt", b"1. open client\n", "text/plain"))],
            headers=agent.headers,
        ),
        201,
    )
    note = ok(
        client.post(
            f"{s}/replies",
            data={"message": "Same as the other VPN ticket.", "isInternal": "true"},
            files=[("files", ("internal.txt", b"note file\n", "text/plain"))],
            headers=agent.headers,
        ),
        201,
    )
    ok(client.post(f"{s}/replies", json={"message": "Version 5.1."}, headers=secondary_customer.headers), 201)
    ok(
        client.put(
            f"{s}/status", json={"status": "on_hold", "reason": "waiting on vendor"}, headers=agent.headers
        )
    )
    watch(db, int(primary["id"]), agent)
    watch(db, int(secondary["id"]), agent)
    watch(db, int(secondary["id"]), watcher)
    return Pair(
        agent=agent,
        admin=admin,
        primary_customer=primary_customer,
        secondary_customer=secondary_customer,
        primary_id=int(primary["id"]),
        secondary_id=int(secondary["id"]),
        secondary_reply_id=int(reply["id"]),
        secondary_note_id=int(note["id"]),
    )


def _row(obj: Any, ignored: frozenset[str] = frozenset()) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns if c.key not in ignored}


def state(db: Database, *ticket_ids: int, skip_messages: frozenset[int] = frozenset()) -> dict[str, Any]:
    """Everything about these tickets except history rows and the stamps of a change (updated
    at/by, versions: both sides')."""
    with db.unit_of_work(write=False) as session:
        tickets = {
            t.id: _row(t, IGNORED) for t in session.scalars(select(Ticket).where(Ticket.id.in_(ticket_ids)))
        }
        messages = {
            m.id: _row(m)
            for m in session.scalars(
                select(Message).where(Message.ticket_id.in_(ticket_ids)).order_by(Message.id)
            )
            if m.id not in skip_messages
        }
        files = {
            a.id: _row(a)
            for a in session.scalars(select(Attachment).where(Attachment.ticket_id.in_(ticket_ids)))
            if a.message_id not in skip_messages
        }
        tags = sorted(
            session.execute(select(ticket_tags).where(ticket_tags.c.ticket_id.in_(ticket_ids))).all()
        )
        watchers = sorted(
            session.execute(select(ticket_watchers).where(ticket_watchers.c.ticket_id.in_(ticket_ids))).all()
        )
    return {
        "tickets": tickets,
        "messages": messages,
        "attachments": files,
        "tags": tags,
        "watchers": watchers,
    }
