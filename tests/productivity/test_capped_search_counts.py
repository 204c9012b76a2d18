"""Capped counts of a full-text search (a saved view's badge, a list's total) are the exact count
up to the cap, through the same visibility as the list: a customer never counts a ticket by the
words of an internal note, an agent never counts another department's ticket."""

from __future__ import annotations

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
from ticketry.auth.actor import Actor
from ticketry.core.db import Database
from ticketry.core.pagination import Page, PageRequest
from ticketry.search import service as search
from ticketry.search.rows import ListedTicket
from ticketry.search.service import SortField, TicketFilters, TicketSort

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


def find(
    db: Database,
    actor: Actor,
    *,
    q: str | None = None,
    page: int = 1,
    page_size: int = 25,
    sort: TicketSort | None = None,
) -> Page[ListedTicket]:
    """A page of tickets as the list and the search read it (by recency), in a read transaction."""
    with db.unit_of_work(write=False) as session:
        return search.find_tickets(
            session,
            actor,
            filters=TicketFilters(q=q),
            sort=sort or TicketSort(),
            page=PageRequest(page=page, page_size=page_size),
        )


@pytest.mark.parametrize("who", sorted(EXPECTED))
@pytest.mark.parametrize("cap", [1, 2, 3, 4, 5, 100])
def test_capped_counts_are_the_exact_count_up_to_the_cap(
    db: Database, cast: dict[str, Persona], who: str, cap: int
) -> None:
    actor = cast[who].actor
    with db.unit_of_work(write=False) as session:
        counted = search.count_tickets(session, actor, TicketFilters(q=WORD), cap=cap)
    assert counted == min(cap, EXPECTED[who])


@pytest.mark.parametrize("who", sorted(EXPECTED))
@pytest.mark.parametrize("page_size", [1, 2, 3, 4, 5, 25])
def test_a_search_page_counts_its_total_past_the_page(
    db: Database, cast: dict[str, Persona], who: str, page_size: int
) -> None:
    """The total is counted only when the page is full (otherwise the page is the whole list)."""
    page = find(db, cast[who].actor, q=WORD, page_size=page_size)
    assert page.total == EXPECTED[who]
    assert not page.capped
    assert len(page.items) == min(page_size, EXPECTED[who])


def test_a_search_past_its_cap_says_so(
    db: Database, cast: dict[str, Persona], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "SEARCH_TOTAL_CAP", 3)
    actor = cast["admin"].actor
    page = find(db, actor, q=WORD, page_size=2)
    plain = find(db, actor, page_size=2)
    assert (page.total, page.capped, page.total_pages) == (3, True, 2)
    assert (plain.total, plain.capped) == (6, False)  # lists have a cap of their own (LIST_TOTAL_CAP)


# (the cap's name, its value, the query): six live tickets for the admin, five by the word. A
# search finds its page and its total in one walk (`search.service._found`), a list counts; the
# totals are the same.
PAGED = {"list": ("LIST_TOTAL_CAP", 3, None), "search": ("SEARCH_TOTAL_CAP", 2, WORD)}


@pytest.mark.parametrize(
    ("kind", "page_number", "expected"),
    [
        ("list", 1, (3, True, 3)),  # counted to the cap
        ("list", 3, (4, True, 4)),  # this page reaches the cap: counted a page beyond it, "Next"
        ("list", 5, (6, False, 6)),  # the end in sight: what there is
        ("list", 6, (6, False, 6)),
        ("search", 1, (2, True, 2)),
        ("search", 2, (3, True, 3)),
        ("search", 4, (5, False, 5)),
        ("search", 5, (5, False, 5)),
        ("search", 6, (5, False, 5)),  # past the end: an empty page that still knows the total
    ],
)
def test_a_reader_paging_past_the_cap_is_always_offered_the_next_page(
    db: Database,
    cast: dict[str, Persona],
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    page_number: int,
    expected: tuple[int, bool, int],
) -> None:
    name, cap, q = PAGED[kind]
    monkeypatch.setattr(search, name, cap)
    page = find(db, cast["admin"].actor, q=q, page=page_number, page_size=1)
    assert (page.total, page.capped, page.total_pages) == expected
    assert len(page.items) == (1 if page_number <= expected[0] else 0)


@pytest.mark.parametrize("who", sorted(EXPECTED))
@pytest.mark.parametrize("field", list(SortField))
@pytest.mark.parametrize("descending", [True, False])
def test_a_search_pages_through_its_tickets_in_the_lists_order(
    db: Database, cast: dict[str, Persona], who: str, field: SortField, descending: bool
) -> None:
    """Page by page, a search shows the list's tickets that match, in the list's order, each
    with its related names: the page's ids are walked first, its rows read after by id."""
    actor, sort = cast[who].actor, TicketSort(field=field, descending=descending)
    listed = find(db, actor, sort=sort).items
    matching = {t.id for t in find(db, actor, q=WORD).items}
    expected = [t for t in listed if t.id in matching]
    pages = [find(db, actor, q=WORD, sort=sort, page=n, page_size=2) for n in (1, 2, 3)]
    assert [t for page in pages for t in page.items] == expected
    assert all(page.total == EXPECTED[who] for page in pages)


def test_a_ticket_number_finds_its_ticket(db: Database, cast: dict[str, Persona]) -> None:
    actor = cast["agent"].actor
    [ticket] = find(db, actor, q="Nothing", page_size=5).items
    for query in (ticket.number, ticket.number.lower()):
        found = find(db, actor, q=query, page_size=5).items
        assert [t.id for t in found] == [ticket.id]


def test_the_portal_search_pages_through_the_customers_tickets_in_the_lists_order(
    db: Database, cast: dict[str, Persona]
) -> None:
    """The portal's rows (`customer_rows`) come the same way as the lists': walked, then read."""
    actor = cast["customer"].actor

    def rows(q: str | None, page: int, page_size: int) -> Page[search.CustomerRow]:
        with db.unit_of_work(write=False) as session:
            filters = TicketFilters(q=q)
            return search.customer_rows(session, actor, filters=filters, page=PageRequest(page, page_size))

    matching = {row.id for row in rows(WORD, 1, 25).items}
    expected = [row for row in rows(None, 1, 25).items if row.id in matching]
    pages = [rows(WORD, n, 3) for n in (1, 2, 3)]
    assert [row for page in pages for row in page.items] == expected
    assert len(expected) == EXPECTED["customer"]
    assert [page.total for page in pages] == [EXPECTED["customer"]] * 3
