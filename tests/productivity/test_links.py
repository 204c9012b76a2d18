"""Links between tickets (issue 6 part 6): related, duplicate, parent and child, shown on both
sides, at most once per pair, no parent cycles, staff only, history on both tickets."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.factories import Persona, api_ticket, make_admin, make_agent, make_customer
from ticketry.core.db import Database
from ticketry.history.models import TicketEvent
from ticketry.tickets import links as link_service
from ticketry.tickets.errors import TicketNotFound
from ticketry.tickets.links import LinkAs, Relation
from ticketry.tickets.models import LinkKind, TicketLink


@pytest.fixture
def cast(db: Database) -> dict[str, Persona]:
    return {
        "customer": make_customer(db),
        "agent": make_agent(db, departments=("technical",)),
        "admin": make_admin(db),
    }


def new_ticket(
    client: TestClient, customer: Persona, title: str = "Printer", department: str = "technical"
) -> Any:
    return api_ticket(client, customer, title=title, department=department)


def link(client: TestClient, persona: Persona, ticket_id: int, **body: Any) -> Any:
    return client.post(f"/api/v1/tickets/{ticket_id}/links", json=body, headers=persona.headers)


def links_of(client: TestClient, persona: Persona, ticket_id: int) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/tickets/{ticket_id}/links", headers=persona.headers)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def stored(db: Database) -> list[tuple[int, int, LinkKind]]:
    with db.unit_of_work(write=False) as session:
        rows = session.execute(select(TicketLink.source_id, TicketLink.target_id, TicketLink.kind))
        return [(s, t, k) for s, t, k in rows]


class TestLink:
    @pytest.mark.parametrize(
        ("kind", "mine", "theirs", "row"),
        [
            ("related", "related", "related", ("a", "b", LinkKind.RELATED)),
            ("duplicate", "duplicate_of", "duplicated_by", ("a", "b", LinkKind.DUPLICATE)),
            ("parent", "parent_of", "child_of", ("a", "b", LinkKind.PARENT)),
            ("child", "child_of", "parent_of", ("b", "a", LinkKind.PARENT)),
        ],
    )
    def test_each_kind_shows_on_both_sides_named_from_that_side(
        self,
        client: TestClient,
        db: Database,
        cast: dict[str, Persona],
        kind: str,
        mine: str,
        theirs: str,
        row: tuple[str, str, LinkKind],
    ) -> None:
        agent = cast["agent"]
        a, b = new_ticket(client, cast["customer"], "First"), new_ticket(client, cast["customer"], "Second")
        created = link(client, agent, a["id"], ticketId=b["id"], kind=kind)
        assert created.status_code == 201, created.text
        body = created.json()
        assert body["relation"] == mine
        assert body["ticket"] == {"id": b["id"], "number": b["number"], "title": "Second", "status": "open"}

        [on_a] = links_of(client, agent, a["id"])
        [on_b] = links_of(client, agent, b["id"])
        assert on_a["id"] == on_b["id"] == body["id"]
        assert (on_a["relation"], on_a["ticket"]["id"]) == (mine, b["id"])
        assert (on_b["relation"], on_b["ticket"]["id"]) == (theirs, a["id"])
        assert on_b["label"] == theirs.replace("_", " ").replace("related", "related to")
        ids = {"a": a["id"], "b": b["id"]}
        assert stored(db) == [(ids[row[0]], ids[row[1]], row[2])]

    def test_the_other_ticket_can_be_named_by_its_number(
        self, client: TestClient, cast: dict[str, Persona]
    ) -> None:
        a, b = new_ticket(client, cast["customer"]), new_ticket(client, cast["customer"])
        response = link(client, cast["agent"], a["id"], number=b["number"].lower(), kind="related")
        assert response.status_code == 201, response.text
        assert response.json()["ticket"]["id"] == b["id"]
        unknown = link(client, cast["agent"], a["id"], number="TICK-1999-9999", kind="related")
        assert unknown.status_code == 404

    def test_the_request_must_name_exactly_one_ticket(
        self, client: TestClient, cast: dict[str, Persona]
    ) -> None:
        a, b = new_ticket(client, cast["customer"]), new_ticket(client, cast["customer"])
        assert link(client, cast["agent"], a["id"], kind="related").status_code == 422
        both = link(client, cast["agent"], a["id"], ticketId=b["id"], number=b["number"], kind="related")
        assert both.status_code == 422
        assert link(client, cast["agent"], a["id"], ticketId=b["id"], kind="sibling").status_code == 422

    def test_a_pair_is_linked_once_whichever_way_round(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        agent = cast["agent"]
        a, b = new_ticket(client, cast["customer"]), new_ticket(client, cast["customer"])
        assert link(client, agent, a["id"], ticketId=b["id"], kind="related").status_code == 201
        again = link(client, agent, a["id"], ticketId=b["id"], kind="duplicate")
        assert again.status_code == 409
        assert again.json()["error"]["code"] == "link_exists"
        reverse = link(client, agent, b["id"], ticketId=a["id"], kind="parent")
        assert reverse.status_code == 409
        assert len(stored(db)) == 1

    def test_a_ticket_cannot_link_to_itself(self, client: TestClient, cast: dict[str, Persona]) -> None:
        a = new_ticket(client, cast["customer"])
        response = link(client, cast["agent"], a["id"], ticketId=a["id"], kind="related")
        assert response.status_code == 422
        assert response.json()["error"]["code"] == "self_link"

    def test_parent_cycles_are_refused(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        agent = cast["agent"]
        a, b, c = (new_ticket(client, cast["customer"], t) for t in ("A", "B", "C"))
        assert link(client, agent, a["id"], ticketId=b["id"], kind="parent").status_code == 201
        assert link(client, agent, b["id"], ticketId=c["id"], kind="parent").status_code == 201
        cycle = link(client, agent, c["id"], ticketId=a["id"], kind="parent")
        assert cycle.status_code == 409
        assert cycle.json()["error"]["code"] == "link_cycle"
        as_child = link(client, agent, a["id"], ticketId=c["id"], kind="child")
        assert as_child.status_code == 409
        assert as_child.json()["error"]["code"] == "link_cycle"
        # Not a cycle: a second child, and related links across the tree.
        d = new_ticket(client, cast["customer"], "D")
        assert link(client, agent, d["id"], ticketId=a["id"], kind="child").status_code == 201
        assert link(client, agent, c["id"], ticketId=a["id"], kind="related").status_code == 201
        assert len(stored(db)) == 4

    def test_deleted_tickets_cannot_be_linked(self, client: TestClient, cast: dict[str, Persona]) -> None:
        a, b = new_ticket(client, cast["customer"]), new_ticket(client, cast["customer"])
        client.delete(f"/api/v1/tickets/{b['id']}", headers=cast["admin"].headers)
        assert link(client, cast["agent"], a["id"], ticketId=b["id"], kind="related").status_code == 404
        refused = link(client, cast["admin"], a["id"], ticketId=b["id"], kind="related")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "ticket_deleted"


class TestUnlink:
    def test_removing_from_either_side_removes_it_from_both(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        agent = cast["agent"]
        a, b = new_ticket(client, cast["customer"]), new_ticket(client, cast["customer"])
        link_id = link(client, agent, a["id"], ticketId=b["id"], kind="parent").json()["id"]
        response = client.delete(f"/api/v1/tickets/{b['id']}/links/{link_id}", headers=agent.headers)
        assert response.status_code == 204
        assert links_of(client, agent, a["id"]) == links_of(client, agent, b["id"]) == []
        again = client.delete(f"/api/v1/tickets/{b['id']}/links/{link_id}", headers=agent.headers)
        assert again.status_code == 404

    def test_a_link_is_removed_only_through_one_of_its_tickets(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        agent = cast["agent"]
        a, b, c = (new_ticket(client, cast["customer"]) for _ in range(3))
        link_id = link(client, agent, a["id"], ticketId=b["id"], kind="related").json()["id"]
        response = client.delete(f"/api/v1/tickets/{c['id']}/links/{link_id}", headers=agent.headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "link_not_found"
        assert len(stored(db)) == 1


class TestHistory:
    def test_linking_and_unlinking_are_recorded_on_both_tickets_for_staff_only(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        agent, customer = cast["agent"], cast["customer"]
        a, b = new_ticket(client, customer), new_ticket(client, customer)
        link_id = link(client, agent, a["id"], ticketId=b["id"], kind="child").json()["id"]
        client.delete(f"/api/v1/tickets/{a['id']}/links/{link_id}", headers=agent.headers)
        with db.unit_of_work(write=False) as session:
            events = list(
                session.scalars(
                    select(TicketEvent).where(TicketEvent.field == "links").order_by(TicketEvent.id)
                )
            )
        assert [(e.ticket_id, e.old_value, e.new_value) for e in events] == [
            (b["id"], None, f"parent of ticket {a['id']}"),
            (a["id"], None, f"child of ticket {b['id']}"),
            (b["id"], f"parent of ticket {a['id']}", None),
            (a["id"], f"child of ticket {b['id']}", None),
        ]
        assert all(e.is_internal and e.actor_id == agent.id for e in events)
        history = client.get(f"/api/v1/tickets/{a['id']}/history", headers=customer.headers).json()["data"]
        assert all(item.get("field") != "links" for item in history)


class TestCustomers:
    def test_customers_get_nothing_about_links(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        customer = cast["customer"]
        a, b = new_ticket(client, customer), new_ticket(client, customer)
        link_id = link(client, cast["agent"], a["id"], ticketId=b["id"], kind="related").json()["id"]
        assert client.get(f"/api/v1/tickets/{a['id']}/links", headers=customer.headers).status_code == 403
        assert link(client, customer, a["id"], ticketId=b["id"], kind="parent").status_code in (403, 409)
        assert link(client, customer, b["id"], ticketId=a["id"], kind="duplicate").status_code in (403, 409)
        deleting = client.delete(f"/api/v1/tickets/{a['id']}/links/{link_id}", headers=customer.headers)
        assert deleting.status_code == 403
        assert len(stored(db)) == 1
        c = new_ticket(client, customer)
        assert link(client, customer, a["id"], ticketId=c["id"], kind="related").status_code == 403

    def test_the_customer_view_of_a_linked_ticket_has_no_link_fields(
        self, client: TestClient, cast: dict[str, Persona]
    ) -> None:
        customer = cast["customer"]
        a, b = new_ticket(client, customer), new_ticket(client, customer)
        link(client, cast["agent"], a["id"], ticketId=b["id"], kind="related")
        view = client.get(f"/api/v1/tickets/{a['id']}", headers=customer.headers).text
        assert b["number"] not in view
        assert "link" not in view.lower()


class TestService:
    def test_find_ticket_by_id_or_number_only_among_readable_tickets(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        billing_agent = make_agent(db, departments=("billing",))
        tech = new_ticket(client, cast["customer"], department="technical")
        with db.unit_of_work(write=False) as session:
            assert link_service.find_ticket(session, cast["agent"].actor, str(tech["id"])) == tech["id"]
            assert link_service.find_ticket(session, cast["agent"].actor, tech["number"]) == tech["id"]
            for ref in (str(tech["id"]), tech["number"]):
                with pytest.raises(TicketNotFound):
                    link_service.find_ticket(session, billing_agent.actor, ref)

    def test_list_links_names_the_relation_from_each_side(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        a, b = new_ticket(client, cast["customer"]), new_ticket(client, cast["customer"])
        with db.unit_of_work() as session:
            made = link_service.link(
                session, cast["agent"].actor, a["id"], other_id=b["id"], kind=LinkAs.DUPLICATE
            )
            assert made.relation is Relation.DUPLICATE_OF
            [seen] = link_service.list_links(session, cast["agent"].actor, b["id"])
            assert (seen.relation, seen.label, seen.ticket.id) == (
                Relation.DUPLICATED_BY,
                "duplicated by",
                a["id"],
            )
            assert session.scalar(select(func.count()).select_from(TicketLink)) == 1
