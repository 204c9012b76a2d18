"""`/api/v1/tickets/{id}/replies`: the conversation and the automatic status rules of docs/product.md §2."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tests.factories import (
    Persona,
    api_ticket,
    make_admin,
    make_agent,
    make_customer,
    make_message,
    make_organization,
)

from ticketry.core.db import Database
from ticketry.history.models import TicketEvent
from ticketry.messages.models import Message
from ticketry.tickets import service as ticket_service
from ticketry.tickets.models import Ticket, TicketStatus


def reply(
    client: TestClient, persona: Persona, ticket_id: object, message: str = "Hello", **flags: object
) -> Any:
    return client.post(
        f"/api/v1/tickets/{ticket_id}/replies", json={"message": message, **flags}, headers=persona.headers
    )


def ticket_row(db: Database, ticket_id: object) -> Ticket:
    with db.unit_of_work(write=False) as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


def message_count(db: Database) -> int:
    with db.unit_of_work(write=False) as session:
        return session.scalar(select(func.count()).select_from(Message)) or 0


def status_events(db: Database, ticket_id: object) -> list[tuple[str | None, str | None, bool]]:
    with db.unit_of_work(write=False) as session:
        rows = session.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id, TicketEvent.field == "status")
            .order_by(TicketEvent.id)
        )
        return [(e.old_value, e.new_value, e.automatic) for e in rows]


def move(db: Database, admin: Persona, ticket_id: object, *statuses: TicketStatus) -> None:
    for status in statuses:
        with db.unit_of_work() as session:
            ticket_service.change_status(session, admin.actor, int(str(ticket_id)), status=status)


@pytest.fixture
def cast(db: Database) -> dict[str, Persona]:
    return {"customer": make_customer(db), "agent": make_agent(db), "admin": make_admin(db)}


def technical_ticket(client: TestClient, customer: Persona) -> dict[str, Any]:
    return api_ticket(client, customer, department="technical")


class TestPostReply:
    def test_public_staff_reply_answers_the_ticket(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket = technical_ticket(client, cast["customer"])
        response = reply(client, cast["agent"], ticket["id"], "Have you tried **turning it off**?")
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["ticketId"] == ticket["id"]
        assert body["author"]["id"] == cast["agent"].id
        assert body["author"]["role"] == "agent"
        assert body["isStaffReply"] is True
        assert body["isInternal"] is False
        assert body["isSolution"] is False
        assert body["source"] == "api"
        assert "<strong>turning it off</strong>" in body["bodyHtml"]
        row = ticket_row(db, ticket["id"])
        assert row.status is TicketStatus.ANSWERED
        assert row.first_response_at is not None
        assert status_events(db, ticket["id"]) == [("open", "answered", True)]

    def test_snake_case_and_body_synonym_are_accepted(
        self, client: TestClient, cast: dict[str, Persona]
    ) -> None:
        ticket = technical_ticket(client, cast["customer"])
        response = client.post(
            f"/api/v1/tickets/{ticket['id']}/replies",
            json={"body": "note via synonym", "is_internal": True},
            headers=cast["agent"].headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["body"] == "note via synonym"
        assert response.json()["isInternal"] is True

    def test_internal_note_changes_neither_status_nor_first_response(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket = technical_ticket(client, cast["customer"])
        response = reply(client, cast["agent"], ticket["id"], "Looks like the DNS", isInternal=True)
        assert response.status_code == 201
        row = ticket_row(db, ticket["id"])
        assert row.status is TicketStatus.OPEN
        assert row.first_response_at is None

    def test_staff_marks_a_solution(self, client: TestClient, cast: dict[str, Persona]) -> None:
        ticket = technical_ticket(client, cast["customer"])
        response = reply(client, cast["agent"], ticket["id"], "Reboot fixes it", isSolution=True)
        assert response.json()["isSolution"] is True

    def test_customer_reply_on_open_ticket_keeps_it_open(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket = technical_ticket(client, cast["customer"])
        response = reply(client, cast["customer"], ticket["id"], "More details")
        assert response.status_code == 201
        assert response.json()["isStaffReply"] is False
        assert "isInternal" not in response.json()
        row = ticket_row(db, ticket["id"])
        assert row.status is TicketStatus.OPEN
        assert row.first_response_at is None

    @pytest.mark.parametrize(
        "path",
        [
            (TicketStatus.ANSWERED,),
            (TicketStatus.ANSWERED, TicketStatus.WAITING_FOR_RESPONSE),
            (TicketStatus.IN_PROGRESS, TicketStatus.RESOLVED),
        ],
        ids=["answered", "waiting_for_response", "resolved"],
    )
    def test_customer_reply_reopens(
        self, client: TestClient, db: Database, cast: dict[str, Persona], path: tuple[TicketStatus, ...]
    ) -> None:
        ticket = technical_ticket(client, cast["customer"])
        move(db, cast["admin"], ticket["id"], *path)
        response = reply(client, cast["customer"], ticket["id"], "Still broken")
        assert response.status_code == 201, response.text
        row = ticket_row(db, ticket["id"])
        assert row.status is TicketStatus.OPEN
        assert row.resolved_at is None
        assert status_events(db, ticket["id"])[-1] == (path[-1].value, "open", True)

    def test_customer_reply_on_hold_keeps_the_status(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket = technical_ticket(client, cast["customer"])
        move(db, cast["admin"], ticket["id"], TicketStatus.ON_HOLD)
        reply(client, cast["customer"], ticket["id"], "Any news?")
        assert ticket_row(db, ticket["id"]).status is TicketStatus.ON_HOLD

    @pytest.mark.parametrize("who", ["customer", "agent"])
    def test_reply_on_closed_ticket_is_refused(
        self, client: TestClient, db: Database, cast: dict[str, Persona], who: str
    ) -> None:
        ticket = technical_ticket(client, cast["customer"])
        move(db, cast["admin"], ticket["id"], TicketStatus.CLOSED)
        before = message_count(db)
        response = reply(client, cast[who], ticket["id"], "Hello?")
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert error["code"] == "ticket_closed"
        assert "closed" in error["message"]
        assert error["details"]["allowed"] == ["open"]
        assert message_count(db) == before
        assert ticket_row(db, ticket["id"]).status is TicketStatus.CLOSED

    def test_reply_after_reopen_is_accepted(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket = technical_ticket(client, cast["customer"])
        move(db, cast["admin"], ticket["id"], TicketStatus.CLOSED, TicketStatus.OPEN)
        assert reply(client, cast["customer"], ticket["id"], "Back again").status_code == 201

    @pytest.mark.parametrize("flag", ["isInternal", "isSolution"])
    def test_customer_cannot_post_staff_flags(
        self, client: TestClient, db: Database, cast: dict[str, Persona], flag: str
    ) -> None:
        ticket = technical_ticket(client, cast["customer"])
        response = reply(client, cast["customer"], ticket["id"], "sneaky", **{flag: True})
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
        assert message_count(db) == 0

    @pytest.mark.parametrize("message", ["", "   \n  "], ids=["empty", "blank"])
    def test_empty_message_is_422(
        self, client: TestClient, db: Database, cast: dict[str, Persona], message: str
    ) -> None:
        ticket = technical_ticket(client, cast["customer"])
        response = reply(client, cast["agent"], ticket["id"], message)
        assert response.status_code == 422
        assert response.json()["error"]["code"] in ("validation_error", "empty_message")
        assert message_count(db) == 0

    def test_someone_elses_ticket_is_404(
        self, client: TestClient, cast: dict[str, Persona], db: Database
    ) -> None:
        ticket = technical_ticket(client, cast["customer"])
        response = reply(client, make_customer(db), ticket["id"], "hi")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "ticket_not_found"

    def test_colleague_in_shared_organization_reads_but_cannot_reply(
        self, client: TestClient, db: Database
    ) -> None:
        org = make_organization(db, shared=True)
        owner = make_customer(db, organization_id=org)
        colleague = make_customer(db, organization_id=org)
        ticket = technical_ticket(client, owner)
        listed = client.get(f"/api/v1/tickets/{ticket['id']}/replies", headers=colleague.headers)
        assert listed.status_code == 200
        response = reply(client, colleague, ticket["id"], "me too")
        assert response.status_code == 403


class TestFirstResponse:
    def test_only_the_first_public_staff_reply_sets_it(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket = technical_ticket(client, cast["customer"])
        reply(client, cast["agent"], ticket["id"], "internal first", isInternal=True)
        reply(client, cast["customer"], ticket["id"], "customer follow-up")
        assert ticket_row(db, ticket["id"]).first_response_at is None
        first = reply(client, cast["agent"], ticket["id"], "public answer").json()
        stamped = ticket_row(db, ticket["id"]).first_response_at
        assert stamped is not None
        assert stamped.isoformat().replace("+00:00", "Z") == first["createdAt"]
        reply(client, cast["customer"], ticket["id"], "still there")
        reply(client, cast["admin"], ticket["id"], "second answer")
        assert ticket_row(db, ticket["id"]).first_response_at == stamped

    def test_it_shows_on_the_ticket(self, client: TestClient, cast: dict[str, Persona]) -> None:
        ticket = technical_ticket(client, cast["customer"])
        reply(client, cast["agent"], ticket["id"], "answer")
        body = client.get(f"/api/v1/tickets/{ticket['id']}", headers=cast["customer"].headers).json()
        assert body["firstResponseAt"] is not None
        assert body["status"] == "answered"


class TestListReplies:
    def test_staff_see_everything_oldest_first(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket = technical_ticket(client, cast["customer"])
        make_message(db, cast["customer"], ticket["id"], body="one")
        make_message(db, cast["agent"], ticket["id"], body="two", internal=True)
        make_message(db, cast["agent"], ticket["id"], body="three")
        response = client.get(f"/api/v1/tickets/{ticket['id']}/replies", headers=cast["agent"].headers)
        assert response.status_code == 200
        assert [(m["body"], m["isInternal"]) for m in response.json()["data"]] == [
            ("one", False),
            ("two", True),
            ("three", False),
        ]

    def test_customer_never_gets_notes(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket = technical_ticket(client, cast["customer"])
        make_message(db, cast["agent"], ticket["id"], body="secret", internal=True)
        make_message(db, cast["agent"], ticket["id"], body="public")
        response = client.get(f"/api/v1/tickets/{ticket['id']}/replies", headers=cast["customer"].headers)
        assert [m["body"] for m in response.json()["data"]] == ["public"]
        assert "secret" not in response.text
        assert "isInternal" not in response.json()["data"][0]

    def test_someone_elses_conversation_is_404(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket = technical_ticket(client, cast["customer"])
        response = client.get(f"/api/v1/tickets/{ticket['id']}/replies", headers=make_customer(db).headers)
        assert response.status_code == 404

    def test_missing_ticket_is_404(self, client: TestClient, cast: dict[str, Persona]) -> None:
        response = client.get("/api/v1/tickets/424242/replies", headers=cast["admin"].headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "ticket_not_found"
