"""The three busiest pages cost the same number of SQL statements however much they show: the
desk list (25 rows with customers, assignees, categories, tags; saved views in the sidebar), the
desk ticket page (a long thread with notes, edits, participants, links, watchers, history and the
customer's other tickets) and the customer portal's list. Anything loaded per row, per message or
per saved view would make the bigger page cost more."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.factories import (
    Persona,
    assign,
    make_admin,
    make_agent,
    make_customer,
    make_message,
    make_ticket,
    watch,
)
from tests.mail_admin import Browser
from tests.web.test_query_counts import counting

from ticketry.core.db import Database
from ticketry.messages import revisions
from ticketry.messages import service as message_service
from ticketry.search import views as saved_views
from ticketry.tickets import links as link_service
from ticketry.tickets import participants as participant_service
from ticketry.tickets import service as ticket_service
from ticketry.tickets.links import LinkAs
from ticketry.tickets.models import Priority, TicketStatus

DESK_ROWS = 25


def statements_for(browser: Browser, db: Database, path: str, **headers: str) -> list[str]:
    with counting(db) as counter:
        response = browser.client.get(path, headers=headers, follow_redirects=False)
    assert response.status_code == 200, (path, response.status_code, response.text[:500])
    return counter.statements


def is_count(statement: str) -> bool:
    return statement.lstrip().lower().startswith("select count(")


def same_cost(small: list[str], big: list[str]) -> bool:
    """The same statements but for a list's total, which a short first page does not need (its
    rows are all there is): the bigger page may count where the small one did not, never more."""
    counted = sum(map(is_count, big)) - sum(map(is_count, small))
    rest = [s for s in big if not is_count(s)], [s for s in small if not is_count(s)]
    return counted in (0, 1) and len(rest[0]) == len(rest[1])


def differ(what: str, small: list[str], big: list[str]) -> str:
    def listing(statements: list[str]) -> str:
        return "\n".join("  " + " ".join(s.split())[:160] for s in statements)

    return f"{what}: {len(small)} statements, then {len(big)}:\n{listing(small)}\n---\n{listing(big)}"


def busy_tickets(
    db: Database, admin: Persona, agents: list[Persona], customers: list[Persona], n: int
) -> list[int]:
    """`n` tickets that differ in everything a list row shows: customer, assignee, category,
    tags, priority, watchers."""
    with db.unit_of_work() as session:
        categories = [
            ticket_service.create_category(session, admin.actor, name=f"Category {len(customers)}-{n}-{i}").id
            for i in range(2)
        ]
    ids = []
    for i in range(n):
        ticket = make_ticket(
            db, customers[i % len(customers)], title=f"Ticket {i}", priority=list(Priority)[i % 4]
        )
        ids.append(ticket.id)
        if i % 3:
            assign(db, admin, ticket.id, agents[i % len(agents)])
        if i % 2:
            watch(db, ticket.id, agents[(i + 1) % len(agents)])
        with db.unit_of_work() as session:
            edit = ticket_service.TicketEdit(
                provided=frozenset({"category_id"}), category_id=categories[i % 2]
            )
            ticket_service.update_ticket(session, admin.actor, ticket.id, edit=edit)
            ticket_service.bulk_update(
                session,
                admin.actor,
                [ticket.id],
                change=ticket_service.BulkChange(add_tags=(f"tag-{i % 4}", f"area-{i % 3}")),
            )
    return ids


class TestDeskList:
    def test_statements_do_not_grow_with_rows_or_saved_views(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        agents = [make_agent(db) for _ in range(3)]
        customers = [make_customer(db) for _ in range(2)]
        busy_tickets(db, admin, agents, customers, 2)
        browser = Browser(client, db, agents[0])
        statements_for(browser, db, "/desk?view=open")  # warm: first-request caches
        small = statements_for(browser, db, "/desk?view=open")

        more = [make_customer(db) for _ in range(5)]
        busy_tickets(db, admin, agents, more, DESK_ROWS + 5)
        with db.unit_of_work() as session:
            for name, query in [
                ("Urgent", "view=all&priority=urgent"),
                ("Mine", "view=mine"),
                ("Tagged", "tag=tag-1"),
            ]:
                saved_views.create_view(session, agents[0].actor, name=name, query=query)
        big = statements_for(browser, db, "/desk?view=open")
        page = browser.get("/desk?view=open")
        assert page.count("data-row") == DESK_ROWS and "Tagged" in page
        assert same_cost(small, big), differ("GET /desk", small, big)

    def test_the_page_counts_only_its_list(self, client: TestClient, db: Database) -> None:
        """The sidebar's counts come afterwards (GET /desk/views/counts), so none holds the page up."""
        agent = make_agent(db)
        make_ticket(db, make_customer(db))
        with db.unit_of_work() as session:
            saved_views.create_view(session, agent.actor, name="Everything", query="view=all")
        browser = Browser(client, db, agent)
        page = statements_for(browser, db, "/desk?view=all")
        assert sum(map(is_count, page)) <= 1, "\n".join(page)  # the list's total at most
        refresh = statements_for(browser, db, "/desk?view=all", **{"X-Live-Refresh": "1"})
        # A live refresh comes with them: six built-in views' and the saved view's.
        assert sum(map(is_count, refresh)) - sum(map(is_count, page)) == 6 + 1


def long_ticket(db: Database, admin: Persona, agents: list[Persona], customer: Persona, size: int) -> int:
    """A ticket with `size` messages from three authors (every third an internal note, one
    edited, one deleted), and with `size` // 3 (at least one) participants, links and other tickets
    of its customer, watchers, and status changes in its history."""
    ticket = make_ticket(db, customer, title=f"Long story {size}")
    authors = [customer, *agents]
    posted = [
        make_message(db, authors[i % 3], ticket.id, body=f"Message {i}", internal=i % 3 == 2)
        for i in range(size)
    ]
    with db.unit_of_work() as session:
        revisions.edit_message(session, agents[0].actor, ticket.id, posted[1].id, body="Edited")
        message_service.delete_message(session, admin.actor, ticket.id, posted[-1].id)
    for i in range(max(1, size // 3)):
        other = make_ticket(db, customer, title=f"Earlier {size}-{i}")
        with db.unit_of_work() as session:
            participant_service.add_participant(
                session, agents[0].actor, ticket.id, email=f"cc{size}-{i}@example.com"
            )
            link_service.link(session, agents[0].actor, ticket.id, other_id=other.id, kind=LinkAs.RELATED)
    for agent in agents[: 1 + size // 6]:
        watch(db, ticket.id, agent)
    assign(db, admin, ticket.id, agents[0])
    for status in [TicketStatus.ON_HOLD, TicketStatus.IN_PROGRESS][: 1 + size // 6]:
        with db.unit_of_work() as session:
            ticket_service.change_status(session, agents[0].actor, ticket.id, status=status)
    return ticket.id


class TestDeskTicket:
    def test_statements_do_not_grow_with_the_thread(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        agents = [make_agent(db), make_agent(db)]
        few = long_ticket(db, admin, agents, make_customer(db), 2)
        many = long_ticket(db, admin, agents, make_customer(db), 12)
        for reader in (agents[0], agents[1], admin):  # the assignee, another agent, an admin
            browser = Browser(client, db, reader)
            for headers in ({}, {"X-Live-Refresh": "1"}):
                statements_for(browser, db, f"/desk/tickets/{few}", **headers)  # warm
                small = statements_for(browser, db, f"/desk/tickets/{few}", **headers)
                big = statements_for(browser, db, f"/desk/tickets/{many}", **headers)
                assert same_cost(small, big), differ(f"GET /desk/tickets/{{id}} {headers}", small, big)
        page = browser.get(f"/desk/tickets/{many}")
        assert page.count('class="message ') == 13  # the description and twelve messages
        assert page.count('class="badge note-badge"') == 4 and page.count("<li data-link=") == 4


class TestPortalList:
    def test_statements_do_not_grow_with_rows(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        make_ticket(db, customer, title="Only one", department="billing")
        browser = Browser(client, db, customer)
        statements_for(browser, db, "/?tab=all")  # warm
        small = statements_for(browser, db, "/?tab=all")
        for i in range(24):
            make_ticket(
                db, customer, title=f"Another {i}", department=["technical", "billing", "sales"][i % 3]
            )
        big = statements_for(browser, db, "/?tab=all")
        assert browser.get("/?tab=all").count('class="ticket-card"') == 20
        assert same_cost(small, big), differ("GET /", small, big)
