"""Each ticket's search documents (migration 0012) follow every write that changes what a search
should find, in the writer's own transaction: a new reply or note, an edited or deleted message, a
new title, messages moved by a merge or a split, a deleted ticket. Customers search the public
document, staff the one with notes. On SQLite the FTS5 index is checked for integrity after all
of it: its external content is told the old text before each change, and a wrong one would corrupt
it silently."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text, update

from tests.factories import (
    Persona,
    delete_message,
    make_admin,
    make_agent,
    make_customer,
    make_message,
    make_ticket,
    web_session,
)
from ticketry.auth.actor import Actor
from ticketry.core.db import Database
from ticketry.core.pagination import PageRequest
from ticketry.messages import revisions
from ticketry.messages import service as message_service
from ticketry.search import fulltext
from ticketry.search import service as search
from ticketry.search.service import TicketFilters, TicketSort
from ticketry.threads import merge, split
from ticketry.tickets import service as ticket_service
from ticketry.tickets.models import Ticket
from ticketry.tickets.service import TicketEdit


def found(db: Database, actor: Actor, query: str) -> set[int]:
    with db.unit_of_work(write=False) as session:
        page = search.find_tickets(
            session, actor, filters=TicketFilters(q=query), sort=TicketSort(), page=PageRequest(page_size=100)
        )
    return {ticket.id for ticket in page.items}


@pytest.fixture
def people(db: Database) -> dict[str, Persona]:
    return {"customer": make_customer(db), "agent": make_agent(db), "admin": make_admin(db)}


def test_replies_and_notes(db: Database, people: dict[str, Persona]) -> None:
    customer, agent = people["customer"].actor, people["agent"].actor
    ticket = make_ticket(db, people["customer"], title="Scanner jams", description="Every morning.")
    assert found(db, customer, "scanner") == found(db, agent, "scanner") == {ticket.id}
    make_message(db, people["customer"], ticket.id, body="The tray is wombatish")
    make_message(db, people["agent"], ticket.id, body="Vendor says platypoid firmware", internal=True)
    assert found(db, customer, "wombatish") == found(db, agent, "wombatish") == {ticket.id}
    assert found(db, agent, "platypoid") == {ticket.id}
    assert found(db, customer, "platypoid") == set()
    # Words of a reply and of a note together.
    assert found(db, agent, "wombatish platypoid") == {ticket.id}
    assert found(db, customer, "wombatish platypoid") == set()


def test_edits_and_deletions(db: Database, people: dict[str, Persona]) -> None:
    agent, admin = people["agent"].actor, people["admin"].actor
    ticket = make_ticket(db, people["customer"], title="Badge reader", description="It beeps.")
    reply = make_message(db, people["agent"], ticket.id, body="Try the quolltastic reset")
    with db.unit_of_work() as session:
        revisions.edit_message(session, agent, ticket.id, reply.id, body="Try the numbattish reset")
    assert found(db, agent, "quolltastic") == set()
    assert found(db, agent, "numbattish") == {ticket.id}
    delete_message(db, people["admin"], reply.id)
    assert found(db, agent, "numbattish") == set()
    with db.unit_of_work() as session:
        message_service.restore_message(session, admin, ticket.id, reply.id)
    assert found(db, agent, "numbattish") == {ticket.id}
    with db.unit_of_work() as session:
        edit = TicketEdit(provided=frozenset({"title"}), title="Turnstile reader")
        ticket_service.update_ticket(session, agent, ticket.id, edit=edit)
    assert found(db, agent, "badge") == set()
    assert found(db, agent, "turnstile") == {ticket.id}
    with db.unit_of_work() as session:
        ticket_service.delete_ticket(session, admin, ticket.id)
    assert found(db, admin, "turnstile") == set()
    _check_index(db)


def test_merge_and_split_move_the_words(db: Database, people: dict[str, Persona]) -> None:
    admin = people["admin"].actor
    primary = make_ticket(db, people["customer"], title="VPN drops")
    secondary = make_ticket(db, people["customer"], title="Also VPN")
    moved = make_message(db, people["customer"], secondary.id, body="Logs show bilbyesque timeouts")
    with db.unit_of_work() as session:
        merge.merge_tickets(session, admin, primary.id, [secondary.id])
    assert primary.id in found(db, admin, "bilbyesque")
    with db.unit_of_work() as session:
        parted = split.split_ticket(session, admin, primary.id, [moved.id], title="Timeouts").id
    assert parted in found(db, admin, "bilbyesque")
    assert primary.id not in found(db, admin, "bilbyesque")
    _check_index(db)


def test_a_customers_email_finds_their_tickets_for_staff(db: Database, people: dict[str, Persona]) -> None:
    other = make_customer(db)
    mine = make_ticket(db, people["customer"], title="Laptop")
    theirs = make_ticket(db, other, title="Phone")
    assert found(db, people["agent"].actor, people["customer"].email.upper()) == {mine.id}
    assert found(db, people["agent"].actor, other.email) == {theirs.id}
    # A customer reads only their own tickets, whoever's address they type.
    assert found(db, people["customer"].actor, other.email) == set()


def test_a_ticket_given_to_another_customer_is_found_by_them_only(
    db: Database, people: dict[str, Persona]
) -> None:
    """PostgreSQL looks a customer's words up among their own documents (migration 0018): the
    documents follow the ticket to its new customer. No use case moves a ticket today; an
    operator's UPDATE may."""
    other = make_customer(db)
    ticket = make_ticket(db, people["customer"], title="Quokkaform invoice")
    assert found(db, people["customer"].actor, "quokkaform") == {ticket.id}
    with db.unit_of_work() as session:
        session.execute(update(Ticket).where(Ticket.id == ticket.id).values(customer_id=other.id))
    assert found(db, people["customer"].actor, "quokkaform") == set()
    assert found(db, other.actor, "quokkaform") == {ticket.id}
    assert found(db, people["agent"].actor, "quokkaform") == {ticket.id}


def test_the_api_says_when_a_total_is_capped(
    db: Database, people: dict[str, Persona], client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(4):
        make_ticket(db, people["customer"], title=f"Kiosk {n} frozen")
    monkeypatch.setattr(search, "SEARCH_TOTAL_CAP", 2)
    body = client.get(
        "/api/v1/tickets", params={"q": "kiosk", "page_size": 1}, headers=people["agent"].headers
    ).json()
    assert body["pagination"] == {
        "total": 2,
        "page": 1,
        "pageSize": 1,
        "totalPages": 2,
        "totalCapped": True,
    }
    whole = client.get("/api/v1/tickets", params={"q": "kiosk"}, headers=people["agent"].headers).json()
    assert (whole["pagination"]["total"], whole["pagination"]["totalCapped"]) == (4, False)


def _check_index(db: Database) -> None:
    with db.unit_of_work(write=False) as session:
        if session.get_bind().dialect.name == "sqlite":
            session.execute(
                text("INSERT INTO search_documents (search_documents) VALUES ('integrity-check')")
            )


@pytest.mark.parametrize("walk_from", [1, 10_000])
def test_walking_the_list_finds_what_the_index_finds(
    db: Database, people: dict[str, Persona], monkeypatch: pytest.MonkeyPatch, walk_from: int
) -> None:
    """On SQLite a word with many matches is tested ticket by ticket in list order (`+id IN`),
    one with few is looked up; both answers are the same, note words included only for staff."""
    monkeypatch.setattr(fulltext, "WALK_FROM", walk_from)
    tickets = [make_ticket(db, people["customer"], title=f"Router {n}") for n in range(3)]
    make_message(db, people["agent"], tickets[0].id, body="dingoish cabling", internal=True)
    make_message(db, people["customer"], tickets[1].id, body="dingoish again")
    assert found(db, people["agent"].actor, "dingoish") == {tickets[0].id, tickets[1].id}
    assert found(db, people["customer"].actor, "dingoish") == {tickets[1].id}
    assert found(db, people["agent"].actor, "router") == {t.id for t in tickets}


def test_sqlite_counts_a_querys_matches_once_a_minute(
    db: Database, people: dict[str, Persona], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether to walk is decided by counting the matches up to WALK_FROM; the answer is kept a
    minute per database (`fulltext._many_by_query`), per side (staff, customers) and query."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL plans its searches itself")
    ticket = make_ticket(db, people["customer"], title="Numbat noise")
    probes: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_rest: object) -> None:
        if "count(*)" in statement and "MATCH" in statement:
            probes.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        for reader in ("agent", "agent", "customer", "customer", "agent"):
            assert found(db, people[reader].actor, "numbat") == {ticket.id}
        assert found(db, people["agent"].actor, "noise") == {ticket.id}
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert len(probes) == 3  # staff "numbat", customers' "numbat", staff "noise"


def test_the_desk_shows_a_capped_total_with_a_plus(
    db: Database, people: dict[str, Persona], client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A total is counted only past a full page (25 rows), and then up to its cap."""
    for n in range(27):
        make_ticket(db, people["customer"], title=f"Kiosk {n} frozen")
    cookie, _ = web_session(db, people["agent"])
    client.cookies.set("ticketry_session", cookie)
    assert "27 tickets" in client.get("/desk", params={"view": "all", "q": "kiosk"}).text
    monkeypatch.setattr(search, "SEARCH_TOTAL_CAP", 26)
    assert "26+ tickets" in client.get("/desk", params={"view": "all", "q": "kiosk"}).text
    assert "27 tickets" in client.get("/desk", params={"view": "all"}).text
    monkeypatch.setattr(search, "LIST_TOTAL_CAP", 26)
    assert "26+ tickets" in client.get("/desk", params={"view": "all"}).text
    pager = client.get("/desk", params={"view": "all"}).text
    assert "Page 1 of 2+" in pager and 'rel="next"' in pager
    # The next page reaches past the cap: counted on beyond it, the total is exact again.
    pager = client.get("/desk", params={"view": "all", "page": 2}).text
    assert "27 tickets" in pager and "Page 2 of 2<" in pager and 'rel="next"' not in pager
