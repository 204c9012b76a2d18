"""The choices desk pages offer (departments, categories, agents, tags) are shared by a process's
requests for a few seconds (`core.memo.Kept`, issue 13): a page reads them once, a change this
process commits shows on the next page at once, one made elsewhere (another web process) within
the lifetime; the ticket page's "other tickets" of the customer come as numbers and titles,
counted to 100."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from tests.factories import make_admin, make_agent, make_customer, make_ticket
from tests.mail_admin import Browser
from tests.web.test_query_counts import counting

from ticketry.core import memo
from ticketry.core.db import Database
from ticketry.tickets import tags as tag_service
from ticketry.users import service as user_service
from ticketry.web import desk


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The monotonic clock `core.memo` reads, moved by hand; the shared lists start empty."""
    moment = [1000.0]
    monkeypatch.setattr(memo.time, "monotonic", lambda: moment[0])
    for kept in (user_service.STAFF, user_service.DEPARTMENTS, tag_service.TAGS):
        kept.drop()
    yield moment


def reads_of(statements: list[str], table: str) -> int:
    return sum(1 for s in statements if s.lstrip().startswith("SELECT") and f"FROM {table}" in s)


def test_a_page_reads_the_choices_once_per_lifetime(
    client: TestClient, db: Database, clock: list[float]
) -> None:
    agent = make_agent(db)
    ticket = make_ticket(db, make_customer(db))
    browser = Browser(client, db, agent)
    browser.get(f"/desk/tickets/{ticket.id}")
    with counting(db) as again:
        browser.get(f"/desk/tickets/{ticket.id}")
    assert reads_of(again.statements, "tags") == reads_of(again.statements, "departments") == 0
    clock[0] += user_service.CHOICES_SECONDS + 1
    with counting(db) as later:
        browser.get(f"/desk/tickets/{ticket.id}")
    assert reads_of(later.statements, "tags") == 1 and reads_of(later.statements, "departments") == 1


def test_a_change_committed_here_shows_at_once_and_one_from_elsewhere_within_the_lifetime(
    client: TestClient, db: Database, clock: list[float]
) -> None:
    admin = make_admin(db)
    browser = Browser(client, db, admin)
    assert "Escalations" not in browser.get("/desk")
    made = client.post(
        "/api/v1/departments",
        json={"slug": "escalations", "name": "Escalations"},
        headers=admin.headers,
    )
    assert made.status_code == 201, made.text
    assert "Escalations" in browser.get("/desk"), "committed by this process: shown on the next page"
    with db.unit_of_work() as session:
        tag_service.create_tag(session, admin.actor, name="vip-customer")
    assert "vip-customer" in browser.get("/desk")

    with db.engine.begin() as connection:  # another process's change: no session of ours saw it
        connection.execute(text("UPDATE departments SET name = 'Escalation desk' WHERE slug = 'escalations'"))
    assert "Escalation desk" not in browser.get("/desk")
    clock[0] += user_service.CHOICES_SECONDS + 1
    assert "Escalation desk" in browser.get("/desk")


def test_a_rolled_back_change_keeps_what_was_read(
    client: TestClient, db: Database, clock: list[float]
) -> None:
    admin = make_admin(db)
    first = tag_service.TAGS.get(lambda: ("read",))  # type: ignore[arg-type]
    with pytest.raises(RuntimeError), db.unit_of_work() as session:
        tag_service.create_tag(session, admin.actor, name="never-saved")
        raise RuntimeError("changed my mind")
    assert tag_service.TAGS.get(lambda: ("read again",)) is first  # type: ignore[arg-type]


def test_other_tickets_are_counted_to_a_cap(
    client: TestClient, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(desk, "OTHER_TICKETS_CAP", 8)
    agent = make_agent(db)
    customer = make_customer(db)
    tickets = [make_ticket(db, customer, title=f"Printer {n}") for n in range(10)]
    page = Browser(client, db, agent).get(f"/desk/tickets/{tickets[0].id}")
    assert "Other tickets (7+)" in page
    assert page.count('<li><a href="/desk/tickets/') == 5
    assert (
        "Printer 9" in page
        and "Printer 4" not in page
        and f'/desk/tickets/{tickets[0].id}">' not in page.split("Other tickets")[1]
    )

    few = make_customer(db)
    alone = [make_ticket(db, few, title=f"Scanner {n}") for n in range(2)]
    page = Browser(client, db, agent).get(f"/desk/tickets/{alone[0].id}")
    assert "Other tickets (1)" in page and "Scanner 1" in page
