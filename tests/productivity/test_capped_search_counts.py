"""A capped count of a full-text search (a saved view's badge) gives the same answer whichever
way it is worked out: by reading every match first (`fulltext.matching`), or, for a word most
tickets contain, by testing the tickets one by one up to the cap (`fulltext.matching_each`,
PostgreSQL). Both go through the same visibility: a customer never counts a ticket by the words
of an internal note, an agent never counts another department's ticket."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.factories import (
    Persona,
    delete_ticket,
    make_admin,
    make_agent,
    make_customer,
    make_message,
    make_ticket,
)
from ticketry.core.db import Database
from ticketry.core.pagination import PageRequest, count_rows
from ticketry.search import fulltext
from ticketry.search import service as search
from ticketry.search.service import TicketFilters, TicketSort

WORD = "quokkaword"


@pytest.fixture
def cast(db: Database) -> dict[str, Persona]:
    """Five tickets of one customer contain the word in different places; one more is another
    department's; one is deleted."""
    customer, admin = make_customer(db), make_admin(db)
    agent = make_agent(db, departments=("technical",))
    by_title = make_ticket(db, customer, title=f"{WORD} in the title")
    make_ticket(db, customer, title="Plain", description=f"The {WORD} is in the description.")
    by_reply = make_ticket(db, customer, title="Replied")
    make_message(db, customer, by_reply.id, body=f"Still a {WORD} problem")
    by_note = make_ticket(db, customer, title="Noted")
    make_message(db, agent, by_note.id, body=f"Internal: {WORD}", internal=True)
    make_ticket(db, customer, title=f"Billing {WORD}", department="billing")
    gone = make_ticket(db, customer, title=f"Deleted {WORD}")
    delete_ticket(db, admin, gone.id)
    make_ticket(db, customer, title="Nothing to see")
    assert by_title.id
    return {"customer": customer, "agent": agent, "admin": admin}


# Tickets each reader finds by the word: the admin all five live ones; the technical agent not
# the billing one; the customer not the one found only by an internal note.
EXPECTED = {"admin": 5, "agent": 4, "customer": 4}


@pytest.mark.parametrize("who", sorted(EXPECTED))
def test_both_ways_of_matching_find_the_same_tickets(
    db: Database, cast: dict[str, Persona], who: str
) -> None:
    actor = cast[who].actor
    filters = TicketFilters(q=WORD)
    with db.unit_of_work(write=False) as session:
        every = count_rows(session, search.filtered_tickets(session, actor, filters))
        walk = search.filtered_tickets(session, actor, replace(filters, q=None))
        match = fulltext.matching_each(session, actor, WORD)
        assert match is not None
        each = count_rows(session, walk.where(match))
    assert every == each == EXPECTED[who]


@pytest.mark.parametrize("who", sorted(EXPECTED))
@pytest.mark.parametrize("cap", [1, 2, 3, 4, 5, 100])
def test_capped_counts_are_the_exact_count_up_to_the_cap(
    db: Database, cast: dict[str, Persona], who: str, cap: int
) -> None:
    """A small cap makes the word "common" (on PostgreSQL the walk counts it), a large one not.
    The probe reads the tickets' own text regardless of who may see them (four tickets: title,
    description, billing, deleted): it only picks the way of counting, never the answer."""
    actor = cast[who].actor
    with db.unit_of_work(write=False) as session:
        counted = search.count_tickets(session, actor, TicketFilters(q=WORD), cap=cap)
        is_common = fulltext.common(session, actor, WORD, cap)
        postgres = session.get_bind().dialect.name == "postgresql"
    assert counted == min(cap, EXPECTED[who])
    assert is_common == (postgres and cap <= 4)


def test_a_ticket_number_is_found_either_way(db: Database, cast: dict[str, Persona]) -> None:
    actor = cast["agent"].actor
    with db.unit_of_work(write=False) as session:
        [ticket] = search.find_tickets(
            session,
            actor,
            filters=TicketFilters(q="Nothing"),
            sort=TicketSort(),
            page=PageRequest(page=1, page_size=5),
        ).items
        match = fulltext.matching_each(session, actor, ticket.number.lower())
        assert match is not None
        walk = search.filtered_tickets(session, actor, TicketFilters())
        assert [t.id for t in session.scalars(walk.where(match))] == [ticket.id]
