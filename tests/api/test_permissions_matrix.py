"""Who may do what to whose ticket (docs/product.md §1), as one generated matrix: role by action by ticket.

The expectation is written down as two tables, read top to bottom:

1. `SEES`: which tickets each role can see at all. A ticket the actor cannot see does not exist
   for them: every action on it answers 404 and lists leave it out (never a 403 that would
   confirm it exists).
2. `MAY`: among the tickets an actor sees, the ones each action is allowed on. Seen but not
   allowed is a 403.

Bulk update is the one endpoint that is not about a single ticket: who lacks `tickets:bulk`
gets a 403 before any id is looked at, whatever the ids.

Each test is one row (role by action) run against a fresh ticket of every kind, and reports every
cell that disagrees with the tables. Every refused call is also checked to have changed nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select
from sqlalchemy import inspect as sa_inspect
from tests.factories import Persona, make_admin, make_agent, make_customer, make_organization

from ticketry.core.db import Database
from ticketry.history.models import TicketEvent
from ticketry.messages.models import Message
from ticketry.tickets import service as ticket_service
from ticketry.tickets.models import Ticket, ticket_watchers


class Role(enum.StrEnum):
    CUSTOMER = "customer"  # Alice, member of a *shared* organization
    AGENT = "agent"  # works the technical department
    ADMIN = "admin"


class Kind(enum.StrEnum):
    """Whose ticket, as seen from the actor. Requester and department of each are in `_world`."""

    OWN = "own"  # Alice's, general department, unassigned
    COLLEAGUES = "colleagues"  # Carol's (Alice's shared organization), general
    OTHER_CUSTOMERS = "other_customers"  # Bob's (no organization), general
    IN_DEPARTMENT = "in_department"  # Bob's, technical (the agent's department)
    OUTSIDE_DEPARTMENT = "outside_department"  # Bob's, billing
    ASSIGNED_TO_AGENT = "assigned_to_agent"  # Bob's, billing, assigned to the agent
    ASSIGNED_TO_COLLEAGUE = "assigned_to_colleague"  # Bob's, technical, another agent's
    WATCHED = "watched"  # Bob's, billing, watched by the agent


class Action(enum.StrEnum):
    VIEW = "view"
    VIEW_REPLIES = "view_replies"
    VIEW_HISTORY = "view_history"
    LIST_CONTAINS = "list_contains"
    REPLY = "reply"
    NOTE = "note"
    CHANGE_STATUS = "change_status"
    TAKE = "take"  # assign to oneself
    ASSIGN_OTHER = "assign_other"  # assign to a third agent
    TRANSFER = "transfer"
    UNASSIGN = "unassign"
    CLOSE = "close"
    REOPEN = "reopen"
    DELETE = "delete"
    RESTORE = "restore"
    BULK_UPDATE = "bulk_update"
    EDIT_TITLE = "edit_title"


K = Kind
ALL = frozenset(Kind)
NONE: frozenset[Kind] = frozenset()
CUSTOMER_SEES = frozenset({K.OWN, K.COLLEAGUES})
AGENT_SEES = frozenset({K.IN_DEPARTMENT, K.ASSIGNED_TO_AGENT, K.ASSIGNED_TO_COLLEAGUE, K.WATCHED})

# 1. Visibility (docs/product.md §1 "sees").
SEES: dict[Role, frozenset[Kind]] = {
    Role.CUSTOMER: CUSTOMER_SEES,
    Role.AGENT: AGENT_SEES,
    Role.ADMIN: ALL,
}

# 2. Allowed actions among visible tickets (docs/product.md §1 "may").
MAY: dict[Action, dict[Role, frozenset[Kind]]] = {
    Action.VIEW: {Role.CUSTOMER: CUSTOMER_SEES, Role.AGENT: AGENT_SEES, Role.ADMIN: ALL},
    Action.VIEW_REPLIES: {Role.CUSTOMER: CUSTOMER_SEES, Role.AGENT: AGENT_SEES, Role.ADMIN: ALL},
    Action.VIEW_HISTORY: {Role.CUSTOMER: CUSTOMER_SEES, Role.AGENT: AGENT_SEES, Role.ADMIN: ALL},
    Action.LIST_CONTAINS: {Role.CUSTOMER: CUSTOMER_SEES, Role.AGENT: AGENT_SEES, Role.ADMIN: ALL},
    # Colleagues in a shared organization read each other's tickets but act only on their own.
    Action.REPLY: {Role.CUSTOMER: frozenset({K.OWN}), Role.AGENT: AGENT_SEES, Role.ADMIN: ALL},
    Action.NOTE: {Role.CUSTOMER: NONE, Role.AGENT: AGENT_SEES, Role.ADMIN: ALL},
    Action.CHANGE_STATUS: {Role.CUSTOMER: NONE, Role.AGENT: AGENT_SEES, Role.ADMIN: ALL},
    # Agents take unassigned tickets (or keep their own), never someone else's.
    Action.TAKE: {
        Role.CUSTOMER: NONE,
        Role.AGENT: AGENT_SEES - {K.ASSIGNED_TO_COLLEAGUE},
        Role.ADMIN: ALL,
    },
    Action.ASSIGN_OTHER: {Role.CUSTOMER: NONE, Role.AGENT: NONE, Role.ADMIN: ALL},
    Action.TRANSFER: {Role.CUSTOMER: NONE, Role.AGENT: frozenset({K.ASSIGNED_TO_AGENT}), Role.ADMIN: ALL},
    Action.UNASSIGN: {Role.CUSTOMER: NONE, Role.AGENT: frozenset({K.ASSIGNED_TO_AGENT}), Role.ADMIN: ALL},
    Action.CLOSE: {Role.CUSTOMER: frozenset({K.OWN}), Role.AGENT: AGENT_SEES, Role.ADMIN: ALL},
    Action.REOPEN: {Role.CUSTOMER: frozenset({K.OWN}), Role.AGENT: AGENT_SEES, Role.ADMIN: ALL},
    Action.DELETE: {Role.CUSTOMER: NONE, Role.AGENT: NONE, Role.ADMIN: ALL},
    Action.RESTORE: {Role.CUSTOMER: NONE, Role.AGENT: NONE, Role.ADMIN: ALL},
    Action.BULK_UPDATE: {Role.CUSTOMER: NONE, Role.AGENT: NONE, Role.ADMIN: ALL},
    Action.EDIT_TITLE: {Role.CUSTOMER: frozenset({K.OWN}), Role.AGENT: AGENT_SEES, Role.ADMIN: ALL},
}

SUCCESS = {Action.REPLY: 201, Action.NOTE: 201, Action.DELETE: 204}
NOT_LISTED = "not listed"
Outcome = int | str


def expected(role: Role, action: Action, kind: Kind) -> Outcome:
    if action is Action.BULK_UPDATE and kind not in MAY[action][role]:
        return 403
    # A deleted ticket (the precondition of RESTORE) exists only for who may restore it.
    visible = kind in SEES[role] and (action is not Action.RESTORE or role is Role.ADMIN)
    if not visible:
        return NOT_LISTED if action is Action.LIST_CONTAINS else 404
    if kind not in MAY[action][role]:
        return 403
    return SUCCESS.get(action, 200)


@dataclass(frozen=True)
class World:
    alice: Persona  # the customer role
    bob: Persona
    carol: Persona
    agent: Persona  # the agent role
    colleague: Persona  # holds ASSIGNED_TO_COLLEAGUE
    newcomer: Persona  # the agent tickets are assigned or transferred to
    admin: Persona

    def persona(self, role: Role) -> Persona:
        return {Role.CUSTOMER: self.alice, Role.AGENT: self.agent, Role.ADMIN: self.admin}[role]


def _world(db: Database) -> World:
    organization = make_organization(db, shared=True)
    return World(
        alice=make_customer(db, organization_id=organization),
        bob=make_customer(db),
        carol=make_customer(db, organization_id=organization),
        agent=make_agent(db, departments=("technical",)),
        colleague=make_agent(db, departments=("technical",)),
        newcomer=make_agent(db, departments=("technical",)),
        admin=make_admin(db),
    )


def _tickets(db: Database, world: World, action: Action) -> dict[Kind, int]:
    """One fresh ticket of every kind, in the state the action starts from (one transaction)."""
    made: dict[Kind, int] = {}
    admin = world.admin.actor
    with db.unit_of_work() as session:
        for kind in Kind:
            requester, department = {
                K.OWN: (world.alice, "general"),
                K.COLLEAGUES: (world.carol, "general"),
                K.OTHER_CUSTOMERS: (world.bob, "general"),
                K.IN_DEPARTMENT: (world.bob, "technical"),
                K.OUTSIDE_DEPARTMENT: (world.bob, "billing"),
                K.ASSIGNED_TO_AGENT: (world.bob, "billing"),
                K.ASSIGNED_TO_COLLEAGUE: (world.bob, "technical"),
                K.WATCHED: (world.bob, "billing"),
            }[kind]
            ticket = ticket_service.create_ticket(
                session,
                requester.actor,
                title="Printer on fire",
                description="Really.",
                department=department,
            )
            if kind is K.ASSIGNED_TO_AGENT:
                ticket_service.assign_ticket(session, admin, ticket.id, assignee_id=world.agent.id)
            elif kind is K.ASSIGNED_TO_COLLEAGUE:
                ticket_service.assign_ticket(session, admin, ticket.id, assignee_id=world.colleague.id)
            elif kind is K.WATCHED:
                session.execute(ticket_watchers.insert().values(ticket_id=ticket.id, user_id=world.agent.id))
            if action is Action.REOPEN:
                ticket_service.close_ticket(session, admin, ticket.id)
            elif action is Action.RESTORE:
                ticket_service.delete_ticket(session, admin, ticket.id)
            made[kind] = ticket.id
    return made


def _snapshot(db: Database, ticket_id: int) -> dict[str, Any]:
    """Everything an action could change: the ticket row, its messages and its history."""
    with db.unit_of_work(write=False) as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        row = {
            c.key: getattr(ticket, c.key) for c in sa_inspect(Ticket).column_attrs if c.key != "view_count"
        }
        messages = session.scalar(select(func.count()).where(Message.ticket_id == ticket_id))
        events = session.scalar(select(func.count()).where(TicketEvent.ticket_id == ticket_id))
    return {"ticket": row, "messages": messages, "events": events}


Call = Callable[[TestClient, World, Persona, int], Response]


def _post(path: str, body: dict[str, Any] | None = None) -> Call:
    def call(client: TestClient, world: World, actor: Persona, ticket_id: int) -> Response:
        return client.post(path.format(id=ticket_id), json=body, headers=actor.headers)

    return call


def _get(path: str) -> Call:
    def call(client: TestClient, world: World, actor: Persona, ticket_id: int) -> Response:
        return client.get(path.format(id=ticket_id), headers=actor.headers)

    return call


def _take(client: TestClient, world: World, actor: Persona, ticket_id: int) -> Response:
    return client.post(
        f"/api/v1/tickets/{ticket_id}/assign", json={"assignedTo": actor.id}, headers=actor.headers
    )


def _assign_other(client: TestClient, world: World, actor: Persona, ticket_id: int) -> Response:
    body = {"assignedTo": world.newcomer.id}
    return client.post(f"/api/v1/tickets/{ticket_id}/assign", json=body, headers=actor.headers)


def _transfer(client: TestClient, world: World, actor: Persona, ticket_id: int) -> Response:
    body = {"toAgentId": world.newcomer.id, "note": "Over to you."}
    return client.post(f"/api/v1/tickets/{ticket_id}/transfer", json=body, headers=actor.headers)


def _bulk(client: TestClient, world: World, actor: Persona, ticket_id: int) -> Response:
    body = {"ticketIds": [ticket_id], "priority": "high"}
    return client.post("/api/v1/tickets/bulk-update", json=body, headers=actor.headers)


def _status(client: TestClient, world: World, actor: Persona, ticket_id: int) -> Response:
    return client.put(
        f"/api/v1/tickets/{ticket_id}/status", json={"status": "on_hold"}, headers=actor.headers
    )


def _edit_title(client: TestClient, world: World, actor: Persona, ticket_id: int) -> Response:
    return client.patch(f"/api/v1/tickets/{ticket_id}", json={"title": "Renamed"}, headers=actor.headers)


def _delete(client: TestClient, world: World, actor: Persona, ticket_id: int) -> Response:
    return client.delete(f"/api/v1/tickets/{ticket_id}", headers=actor.headers)


CALLS: dict[Action, Call] = {
    Action.VIEW: _get("/api/v1/tickets/{id}"),
    Action.VIEW_REPLIES: _get("/api/v1/tickets/{id}/replies"),
    Action.VIEW_HISTORY: _get("/api/v1/tickets/{id}/history"),
    Action.LIST_CONTAINS: _get("/api/v1/tickets?page_size=100"),
    Action.REPLY: _post("/api/v1/tickets/{id}/replies", {"message": "A public reply."}),
    Action.NOTE: _post("/api/v1/tickets/{id}/replies", {"message": "A note.", "isInternal": True}),
    Action.CHANGE_STATUS: _status,
    Action.TAKE: _take,
    Action.ASSIGN_OTHER: _assign_other,
    Action.TRANSFER: _transfer,
    Action.UNASSIGN: _post("/api/v1/tickets/{id}/unassign"),
    Action.CLOSE: _post("/api/v1/tickets/{id}/close"),
    Action.REOPEN: _post("/api/v1/tickets/{id}/reopen"),
    Action.DELETE: _delete,
    Action.RESTORE: _post("/api/v1/tickets/{id}/restore"),
    Action.BULK_UPDATE: _bulk,
    Action.EDIT_TITLE: _edit_title,
}


def _outcome(action: Action, response: Response, ticket_id: int) -> Outcome:
    if action is Action.LIST_CONTAINS and response.status_code == 200:
        listed = {item["id"] for item in response.json()["data"]}
        return 200 if ticket_id in listed else NOT_LISTED
    if action is Action.BULK_UPDATE and response.status_code == 200:
        [result] = response.json()["results"]
        return 200 if result["ok"] else f"bulk item failed: {result['error']}"
    return response.status_code


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(Role))
def test_permission_matrix(client: TestClient, db: Database, role: Role, action: Action) -> None:
    """One row of the matrix: this role doing this action to a ticket of every kind."""
    world = _world(db)
    tickets = _tickets(db, world, action)
    disagreements = []
    for kind, ticket_id in tickets.items():
        want = expected(role, action, kind)
        before = _snapshot(db, ticket_id)
        response = CALLS[action](client, world, world.persona(role), ticket_id)
        got = _outcome(action, response, ticket_id)
        if got != want:
            disagreements.append(f"{role}/{action}/{kind}: expected {want}, got {got}: {response.text[:300]}")
        elif want in (403, 404):
            if _snapshot(db, ticket_id) != before:
                disagreements.append(f"{role}/{action}/{kind}: refused with {got} but changed the ticket")
            if want == 404 and response.json()["error"]["code"] != "ticket_not_found":
                disagreements.append(f"{role}/{action}/{kind}: 404 is not ticket_not_found: {response.text}")
    assert not disagreements, "\n".join(disagreements)


class TestExpectationTable:
    """The table itself, against the sentences of docs/product.md §1 it encodes."""

    def test_customer_never_gets_403_for_someone_elses_ticket(self) -> None:
        for action in Action:
            for kind in ALL - CUSTOMER_SEES:
                if action is not Action.BULK_UPDATE:
                    assert expected(Role.CUSTOMER, action, kind) in (404, NOT_LISTED), (action, kind)

    def test_only_admins_delete_restore_bulk_and_assign_others(self) -> None:
        for action in (Action.DELETE, Action.RESTORE, Action.BULK_UPDATE, Action.ASSIGN_OTHER):
            assert MAY[action][Role.CUSTOMER] == NONE
            assert MAY[action][Role.AGENT] == NONE
            assert MAY[action][Role.ADMIN] == ALL

    def test_admins_see_everything(self) -> None:
        assert SEES[Role.ADMIN] == ALL
