"""Loading a ticket by id (`access_ticket`: primary key, then `ticket_visible`) lets through
exactly the tickets `readable_tickets` lists, for every kind of reader, deleted tickets included."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import (
    Persona,
    assign,
    delete_ticket,
    make_admin,
    make_agent,
    make_customer,
    make_organization,
    make_ticket,
    watch,
)
from ticketry.auth.actor import Actor
from ticketry.core.db import Database
from ticketry.tickets.access import access_ticket
from ticketry.tickets.errors import TicketNotFound
from ticketry.tickets.models import Ticket
from ticketry.tickets.repository import readable_tickets


def _by_id(db: Database, actor: Actor, ticket_ids: list[int], *, include_deleted: bool) -> set[int]:
    seen: set[int] = set()
    with db.unit_of_work(write=False) as session:
        for ticket_id in ticket_ids:
            try:
                access_ticket(session, actor, ticket_id, include_deleted=include_deleted)
            except TicketNotFound:
                continue
            seen.add(ticket_id)
    return seen


def _listed(db: Database, actor: Actor, *, include_deleted: bool) -> set[int]:
    with db.unit_of_work(write=False) as session:
        query = readable_tickets(actor, include_deleted=include_deleted).with_only_columns(Ticket.id)
        return set(session.scalars(query))


class TestAccessMatchesTheList:
    def test_every_reader_gets_by_id_what_they_may_list(self, client: TestClient, db: Database) -> None:
        shared = make_organization(db, shared=True)
        private = make_organization(db, shared=False)
        requester = make_customer(db, organization_id=shared)
        colleague = make_customer(db, organization_id=shared)
        loner = make_customer(db, organization_id=private)
        loner_colleague = make_customer(db, organization_id=private)
        stranger = make_customer(db)
        tech = make_agent(db, departments=("technical",))
        both = make_agent(db, departments=("technical", "billing"))
        nowhere = make_agent(db, departments=())
        admin = make_admin(db)

        tickets = {
            "tech": make_ticket(db, requester, department="technical").id,
            "billing": make_ticket(db, requester, department="billing").id,
            "sales assigned": make_ticket(db, loner, department="sales").id,
            "general watched": make_ticket(db, loner, department="general").id,
            "stranger's": make_ticket(db, stranger, department="sales").id,
            "deleted": make_ticket(db, requester, department="technical").id,
            "deleted assigned": make_ticket(db, loner, department="sales").id,
        }
        assign(db, admin, tickets["sales assigned"], tech)
        assign(db, admin, tickets["deleted assigned"], nowhere)
        watch(db, tickets["general watched"], nowhere)
        delete_ticket(db, admin, tickets["deleted"])
        delete_ticket(db, admin, tickets["deleted assigned"])

        readers: list[Persona] = [
            requester,
            colleague,
            loner,
            loner_colleague,
            stranger,
            tech,
            both,
            nowhere,
            admin,
        ]
        ids = [*tickets.values(), max(tickets.values()) + 1000]
        for reader in readers:
            for include_deleted in (False, True):
                listed = _listed(db, reader.actor, include_deleted=include_deleted)
                assert _by_id(db, reader.actor, ids, include_deleted=include_deleted) == listed, (
                    reader.email,
                    include_deleted,
                )

        names = {ticket_id: name for name, ticket_id in tickets.items()}

        def visible(reader: Persona) -> set[str]:
            return {names[i] for i in _by_id(db, reader.actor, ids, include_deleted=False)}

        assert visible(colleague) == {"tech", "billing"}
        assert visible(loner_colleague) == set()
        assert visible(tech) == {"tech", "sales assigned"}
        assert visible(nowhere) == {"general watched"}
        assert names[tickets["deleted"]] in {
            names[i] for i in _by_id(db, admin.actor, ids, include_deleted=True)
        }

    def test_the_api_detail_follows_the_same_rule(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        watcher = make_agent(db, departments=("billing",))
        outsider = make_agent(db, departments=("billing",))
        ticket_id = make_ticket(db, customer, department="technical").id
        watch(db, ticket_id, watcher)

        assert client.get(f"/api/v1/tickets/{ticket_id}", headers=watcher.headers).status_code == 200
        for path in ("", "/replies", "/history"):
            response = client.get(f"/api/v1/tickets/{ticket_id}{path}", headers=outsider.headers)
            assert response.status_code == 404, path
            assert response.json()["error"]["code"] == "ticket_not_found"

    def test_a_change_by_id_is_refused_alike(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        outsider = make_agent(db, departments=("billing",))
        ticket_id = make_ticket(db, customer, department="technical").id

        response = client.post(
            f"/api/v1/tickets/{ticket_id}/replies", json={"message": "Hi"}, headers=outsider.headers
        )

        assert response.status_code == 404
        with db.unit_of_work(write=False) as session:
            assert session.scalar(select(Ticket.status).where(Ticket.id == ticket_id)) == "open"
