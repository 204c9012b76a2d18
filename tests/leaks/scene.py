"""A ticket that staff have worked the way a real desk does, leaving staff-only traces behind.

Every staff-only trace carries a marker word that appears nowhere else, so a leak is a plain
substring search over what the customer receives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from tests.factories import Persona, api_ticket, make_admin, make_agent, make_customer, make_user
from ticketry.core.db import Database
from ticketry.users.models import Role

NOTE_WORD = "quokkanote"
REASON_WORD = "wombatreason"
TRANSFER_WORD = "platypustransfer"
TAG_WORD = "secrettagword"
ASSIGNEE_NAME = "Quentin Hiddenassignee"
NOTE_FILE_WORD = "echidnafile"
PUBLIC_WORD = "kiwifruit"

# Nothing a customer receives may contain any of these.
STAFF_ONLY_MARKERS = (NOTE_WORD, REASON_WORD, TRANSFER_WORD, TAG_WORD, ASSIGNEE_NAME, NOTE_FILE_WORD)


@dataclass(frozen=True)
class Scene:
    customer: Persona
    agent: Persona
    assignee: Persona
    admin: Persona
    ticket_id: int
    note_id: int
    reply_id: int


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def worked_ticket(client: TestClient, db: Database, customer: Persona | None = None) -> Scene:
    """The customer opens a ticket; an admin assigns it, the agent tags it, writes a note with a
    file, answers publicly with a file, puts it on hold with a reason and transfers it with a
    handover note."""
    customer = customer or make_customer(db)
    agent = make_agent(db, departments=("technical",))
    assignee = make_user(db, role=Role.AGENT, departments=("technical",), name=ASSIGNEE_NAME)
    admin = make_admin(db)
    ticket = api_ticket(
        client, customer, title="Printer on fire", description="It smokes.", department="technical"
    )
    base = f"/api/v1/tickets/{ticket['id']}"
    ok(client.post(f"{base}/assign", json={"assignedTo": agent.id}, headers=admin.headers))
    ok(client.patch(base, json={"tags": [TAG_WORD]}, headers=agent.headers))
    note = ok(
        client.post(
            f"{base}/replies",
            data={"message": f"Looks like a {NOTE_WORD} reseller, be careful.", "isInternal": "true"},
            files=[("files", (f"{NOTE_FILE_WORD}-invoice.txt", b"reseller invoice\n", "text/plain"))],
            headers=agent.headers,
        ),
        201,
    )
    reply = ok(
        client.post(
            f"{base}/replies",
            data={"message": f"Try a {PUBLIC_WORD} first."},
            files=[("files", ("steps.txt", b"1. unplug it\n", "text/plain"))],
            headers=agent.headers,
        ),
        201,
    )
    ok(
        client.put(
            f"{base}/status",
            json={"status": "on_hold", "reason": f"{REASON_WORD} vendor"},
            headers=agent.headers,
        )
    )
    ok(
        client.post(
            f"{base}/transfer",
            json={"toAgentId": assignee.id, "note": f"{TRANSFER_WORD}: you know this printer"},
            headers=agent.headers,
        )
    )
    return Scene(
        customer=customer,
        agent=agent,
        assignee=assignee,
        admin=admin,
        ticket_id=int(str(ticket["id"])),
        note_id=int(note["id"]),
        reply_id=int(reply["id"]),
    )


def markers_in(text: str) -> list[str]:
    lowered = text.lower()
    return [marker for marker in STAFF_ONLY_MARKERS if marker.lower() in lowered]
