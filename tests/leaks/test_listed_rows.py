"""The rows every ticket list reads (`search.find_tickets`: the API's lists and searches, saved
views, the desk) hold nothing staff-only for a customer, even where no schema filters them: no
assignee, no requester's address, no tags, and the last change and version as the customer's side
knows them, not an internal note's."""

from __future__ import annotations

import pytest

from tests.factories import Persona, make_admin, make_agent, make_customer, make_message, make_ticket
from ticketry.core.db import Database
from ticketry.core.pagination import PageRequest
from ticketry.search import service as search
from ticketry.search.rows import ListedTicket
from ticketry.search.service import TicketFilters, TicketSort
from ticketry.tickets import service as ticket_service
from ticketry.tickets.models import Ticket

WORD = "wombatword"


def _listed(db: Database, reader: Persona, *, q: str | None) -> list[ListedTicket]:
    with db.unit_of_work(write=False) as session:
        page = search.find_tickets(
            session, reader.actor, filters=TicketFilters(q=q), sort=TicketSort(), page=PageRequest()
        )
    return page.items


@pytest.mark.parametrize("q", [None, WORD], ids=["list", "search"])
def test_a_customers_rows_hold_nothing_staff_only(db: Database, q: str | None) -> None:
    customer, agent, admin = make_customer(db), make_agent(db), make_admin(db)
    ticket = make_ticket(db, customer, title=f"The {WORD} is stuck")
    with db.unit_of_work() as session:
        ticket_service.assign_ticket(session, admin.actor, ticket.id, assignee_id=agent.actor.user_id)
        edit = ticket_service.TicketEdit(provided=frozenset({"tags"}), tags=["vip"])
        ticket_service.update_ticket(session, admin.actor, ticket.id, edit=edit)
    make_message(db, agent, ticket.id, body="Internal: refund them quietly", internal=True)
    with db.unit_of_work(write=False) as session:
        stored = session.get_one(Ticket, ticket.id)
        public = (stored.customer_updated_at, stored.public_version)
        internal = (stored.updated_at, stored.version)
    assert public != internal  # the note, the assignment and the tag moved the staff side only

    (row,) = _listed(db, customer, q=q)
    assert (row.customer, row.assignee, row.tags) == (None, None, [])
    assert (row.updated_at, row.version) == public
    assert (row.customer_updated_at, row.public_version) == public

    (seen_by_staff,) = _listed(db, agent, q=q)
    assert seen_by_staff.assignee is not None and seen_by_staff.assignee.id == agent.actor.user_id
    assert seen_by_staff.customer is not None and seen_by_staff.customer.email == customer.actor.email
    assert [tag.name for tag in seen_by_staff.tags] == ["vip"]
    assert (seen_by_staff.updated_at, seen_by_staff.version) == internal
