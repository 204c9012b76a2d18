"""Merge, unmerge and split in the desk and what the portal shows of a merge (issue 6 part 6)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import Persona, make_agent, make_customer, make_message, make_ticket
from tests.form_browser import FormBrowser

from ticketry.core.db import Database
from ticketry.messages.models import Message
from ticketry.tickets.models import Ticket, TicketMerge

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def desk_browser(client: TestClient, persona: Persona) -> FormBrowser:
    """Pages read with entities decoded: the assertions are about text."""
    return FormBrowser(client, persona, unescape=True)


def merges(db: Database) -> list[TicketMerge]:
    with db.unit_of_work(write=False) as session:
        return list(session.scalars(select(TicketMerge).order_by(TicketMerge.id)))


class TestDeskMerge:
    def test_merge_by_number_banner_and_unmerge(self, client: TestClient, db: Database) -> None:
        customer, agent = make_customer(db), make_agent(db)
        primary = make_ticket(db, customer, title="Primary one")
        duplicate = make_ticket(db, customer, title="Duplicate one")
        desk = desk_browser(client, agent)
        page = desk.get(f"/desk/tickets/{primary.id}")
        assert 'id="merge-form"' in page and "Split messages into a new ticket" in page
        back = f"/desk/tickets/{primary.id}"
        where, landed = desk.post(
            f"{back}/merge", {"tickets": duplicate.number.lower(), "confirm": "true"}, back=back
        )
        assert where == back and f"Merged {duplicate.number} into this ticket." in landed
        assert f"Merged from {duplicate.number}: Duplicate one" in landed
        secondary_page = desk.get(f"/desk/tickets/{duplicate.id}")
        assert 'id="merged-banner"' in secondary_page and f"Merged into {primary.number}" in secondary_page
        [merge] = merges(db)
        where, landed = desk.post(f"/desk/merges/{merge.id}/undo", {}, back=back)
        assert where == f"/desk/tickets/{duplicate.id}" and "is back as it was" in landed
        assert 'id="merged-banner"' not in landed
        assert merges(db)[0].unmerged_at is not None

    def test_merge_needs_the_confirmation_and_a_visible_ticket(
        self, client: TestClient, db: Database
    ) -> None:
        customer, agent = make_customer(db), make_agent(db)
        primary, duplicate = make_ticket(db, customer), make_ticket(db, customer)
        hidden = make_ticket(db, customer, department="billing")
        desk = desk_browser(client, agent)
        back = f"/desk/tickets/{primary.id}"
        _, landed = desk.post(f"{back}/merge", {"tickets": str(duplicate.id)}, back=back)
        assert "Tick the box to confirm the merge." in landed
        _, landed = desk.post(f"{back}/merge", {"tickets": hidden.number, "confirm": "true"}, back=back)
        assert f"No ticket {hidden.number} that you can see." in landed
        assert merges(db) == []

    def test_another_customers_ticket_needs_the_second_confirmation(
        self, client: TestClient, db: Database
    ) -> None:
        """Issue 12 item 8 (docs/product.md §1 ownership, CWE-639 class): a merge across customers let each
        read the other's private replies and files without a word of warning."""
        alice, bob, agent = make_customer(db), make_customer(db), make_agent(db)
        primary = make_ticket(db, alice, title="Alice's printer")
        duplicate = make_ticket(db, bob, title="Bob's printer")
        desk = desk_browser(client, agent)
        back = f"/desk/tickets/{primary.id}"
        where, landed = desk.post(
            f"{back}/merge", {"tickets": duplicate.number, "confirm": "true"}, back=back
        )
        assert where.startswith(f"{back}?merge=")
        assert f"{duplicate.number} belongs to another customer" in landed
        assert 'name="confirm_customers"' in landed and f'value="{duplicate.number}"' in landed
        assert merges(db) == []
        _, landed = desk.post(
            f"{back}/merge",
            {"tickets": duplicate.number, "confirm": "true", "confirm_customers": "true"},
            back=back,
        )
        assert f"Merged {duplicate.number} into this ticket." in landed
        assert len(merges(db)) == 1

    def test_split_page_moves_the_ticked_messages(self, client: TestClient, db: Database) -> None:
        customer, agent = make_customer(db), make_agent(db)
        ticket = make_ticket(db, customer)
        keep = make_message(db, customer, ticket.id, body="Stays here")
        move = make_message(db, agent, ticket.id, body="Goes away", internal=True)
        desk = desk_browser(client, agent)
        page = desk.get(f"/desk/tickets/{ticket.id}/split")
        assert f'value="{keep.id}"' in page and f'value="{move.id}"' in page
        where, landed = desk.post(
            f"/desk/tickets/{ticket.id}/split",
            {"message_ids": [move.id], "title": "Side issue"},
            back=f"/desk/tickets/{ticket.id}/split",
        )
        with db.unit_of_work(write=False) as session:
            new = session.scalars(select(Ticket).where(Ticket.title == "Side issue")).one()
            homes = {m.id: m.ticket_id for m in session.scalars(select(Message))}
        assert where == f"/desk/tickets/{new.id}" and f"Split into {new.number}." in landed
        assert homes == {keep.id: ticket.id, move.id: new.id}
        assert f"from {ticket.number}" in landed, "the moved message says where it came from, by number"

    def test_customers_do_not_get_the_desk_pages(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        ticket = make_ticket(db, customer)
        portal = desk_browser(client, customer)
        portal.get(f"/desk/tickets/{ticket.id}/split", status=303)
        response = client.post(
            f"/desk/tickets/{ticket.id}/merge",
            data={"tickets": str(ticket.id), "confirm": "true", "csrf_token": portal.csrf},
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert merges(db) == []


class TestPortal:
    def test_the_requester_sees_where_it_went_only_if_they_can_read_it(
        self, client: TestClient, db: Database
    ) -> None:
        a, b, agent = make_customer(db), make_customer(db), make_agent(db)
        mine = make_ticket(db, a, title="Mine")
        theirs = make_ticket(db, b, title="Bobsecretproject")
        own_other = make_ticket(db, a, title="My other one")
        desk = desk_browser(client, agent)
        desk.post(
            f"/desk/tickets/{theirs.id}/merge",
            {"tickets": mine.number, "confirm": "true", "confirm_customers": "true"},
        )
        portal = desk_browser(client, a)
        page = portal.get(f"/tickets/{mine.id}")
        assert "closed as a duplicate" in page
        assert theirs.number not in page and "Bobsecretproject" not in page
        assert "Reopen ticket" not in page, "a merged ticket is reopened only by unmerging"
        portal.get(f"/tickets/{theirs.id}", status=404)
        desk = desk_browser(client, agent)
        two = make_ticket(db, a, title="Second")
        desk.post(f"/desk/tickets/{own_other.id}/merge", {"tickets": str(two.id), "confirm": "true"})
        portal = desk_browser(client, a)
        page = portal.get(f"/tickets/{two.id}")
        assert f'merged into <a href="/tickets/{own_other.id}">{own_other.number}</a>' in page
        assert "Reopen it to continue" not in page
