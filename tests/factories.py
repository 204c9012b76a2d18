"""Plain factory functions and personas (docs/style.md, Tests). Each returns fresh rows."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from fastapi.testclient import TestClient

from ticketry.auth import service as auth_service
from ticketry.auth.actor import Actor
from ticketry.core.db import Database
from ticketry.messages import service as message_service
from ticketry.messages.models import Message
from ticketry.tickets import service as ticket_service
from ticketry.tickets.models import Priority, Ticket
from ticketry.users import service as users
from ticketry.users.models import Role

# Hashing with argon2 is slow on purpose; personas share one hash.
PASSWORD = "correct horse battery staple"
_counter = itertools.count(1)
_hash_cache: dict[str, str] = {}


def password_hash() -> str:
    if PASSWORD not in _hash_cache:
        from ticketry.auth.passwords import hash_password

        _hash_cache[PASSWORD] = hash_password(PASSWORD)
    return _hash_cache[PASSWORD]


@dataclass(frozen=True)
class Persona:
    """A user with an Actor (for services) and a bearer token (for the API)."""

    id: int
    email: str
    actor: Actor
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_user(
    db: Database,
    *,
    role: Role = Role.CUSTOMER,
    departments: tuple[str, ...] = ("technical",),
    organization_id: int | None = None,
    name: str | None = None,
) -> Persona:
    n = next(_counter)
    email = f"{role.value}{n}@example.test"
    with db.unit_of_work() as session:
        department_ids = (
            [users.find_department(session, slug).id for slug in departments] if role.is_staff else []
        )
        user = users.create_user(
            session,
            email=email,
            name=name or f"{role.value.title()} {n}",
            role=role,
            password_hash=password_hash(),
            organization_id=organization_id,
            department_ids=department_ids,
        )
        _, token = auth_service.create_token(session, user, name="tests")
        actor = auth_service.actor_for(session, user)
    return Persona(id=user.id, email=email, actor=actor, token=token)


def make_customer(db: Database, *, organization_id: int | None = None) -> Persona:
    return make_user(db, role=Role.CUSTOMER, organization_id=organization_id)


def make_agent(db: Database, *, departments: tuple[str, ...] = ("technical",)) -> Persona:
    return make_user(db, role=Role.AGENT, departments=departments)


def make_admin(db: Database) -> Persona:
    return make_user(db, role=Role.ADMIN, departments=())


def make_organization(db: Database, *, shared: bool) -> int:
    with db.unit_of_work() as session:
        return users.create_organization(session, name=f"Org {next(_counter)}", shared=shared).id


def make_ticket(
    db: Database,
    customer: Persona,
    *,
    title: str = "Printer on fire",
    description: str = "It is really on fire.",
    department: str = "technical",
    priority: Priority = Priority.MEDIUM,
) -> Ticket:
    with db.unit_of_work() as session:
        return ticket_service.create_ticket(
            session,
            customer.actor,
            title=title,
            description=description,
            department=department,
            priority=priority,
        )


def make_message(
    db: Database, author: Persona, ticket_id: int, *, body: str = "Any news?", internal: bool = False
) -> Message:
    with db.unit_of_work() as session:
        return message_service.post_reply(session, author.actor, ticket_id, body=body, is_internal=internal)


def api_ticket(client: TestClient, persona: Persona, **fields: object) -> dict[str, object]:
    body = {"title": "Cannot log in", "description": "Since this morning.", **fields}
    response = client.post("/api/v1/tickets", json=body, headers=persona.headers)
    assert response.status_code == 201, response.text
    data: dict[str, object] = response.json()
    return data


# --- state helpers for tests/leaks, tests/security and the permission matrix --------------------

# Keys a customer-facing payload must never carry, at any depth (docs/product.md §1 "staff-only fields").
STAFF_ONLY_KEYS = frozenset(
    {
        "assignee",
        "assigneeId",
        "assignedTo",
        "tags",
        "viewCount",
        "statusReason",
        "isInternal",
        "createdById",
        "updatedById",
        "deletedAt",
        "deletedById",
        "allowedStatuses",
        "reason",
        "watchers",
    }
)


def staff_keys_in(payload: object) -> set[str]:
    """Every staff-only key anywhere in a decoded JSON payload."""
    found: set[str] = set()
    if isinstance(payload, dict):
        found |= STAFF_ONLY_KEYS & set(payload)
        for value in payload.values():
            found |= staff_keys_in(value)
    elif isinstance(payload, list):
        for item in payload:
            found |= staff_keys_in(item)
    return found


def assign(db: Database, admin: Persona, ticket_id: int, agent: Persona) -> None:
    with db.unit_of_work() as session:
        ticket_service.assign_ticket(session, admin.actor, ticket_id, assignee_id=agent.id)


def watch(db: Database, ticket_id: int, agent: Persona) -> None:
    """No use case sets watchers yet; the row is what `readable_tickets` reads."""
    from ticketry.tickets.models import ticket_watchers

    with db.unit_of_work() as session:
        session.execute(ticket_watchers.insert().values(ticket_id=ticket_id, user_id=agent.id))


def set_status(
    db: Database, actor: Persona, ticket_id: int, status: str, *, reason: str | None = None
) -> None:
    from ticketry.tickets.models import TicketStatus

    with db.unit_of_work() as session:
        ticket_service.change_status(
            session, actor.actor, ticket_id, status=TicketStatus(status), reason=reason
        )


def delete_ticket(db: Database, admin: Persona, ticket_id: int) -> None:
    with db.unit_of_work() as session:
        ticket_service.delete_ticket(session, admin.actor, ticket_id)


def delete_message(db: Database, admin: Persona, message_id: int) -> None:
    """Soft-delete a message through the use case, as an admin."""
    with db.unit_of_work() as session:
        message = session.get(Message, message_id)
        assert message is not None
        message_service.delete_message(session, admin.actor, message.ticket_id, message_id)


def expire_tokens(db: Database, persona: Persona) -> None:
    """Every API token of the persona expired a minute ago."""
    from datetime import timedelta

    from sqlalchemy import update

    from ticketry.auth.models import ApiToken
    from ticketry.core.clock import now

    with db.unit_of_work() as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == persona.id)
            .values(expires_at=now() - timedelta(minutes=1))
        )


def web_session(db: Database, persona: Persona) -> tuple[str, str]:
    """A signed-in browser for the persona: the `ticketry_session` cookie value and its CSRF token."""
    with db.unit_of_work() as session:
        user = users.get_user(session, persona.id)
        started = auth_service.start_web_session(session, user)
    return started.secret, started.csrf_token
