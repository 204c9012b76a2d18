"""Watchers (issue 6 part 3, docs/product.md §3/§4): watch and unwatch, admins add others, the ticket shows
its watchers, watchers hear of changes by mail and live, and watching never grants access."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update

from tests import mailserver as smtp_fixtures
from tests.factories import Persona, api_ticket, make_admin, make_agent, make_customer, make_message
from tests.mailserver import MailServer
from tests.notifications.conftest import content, deliver, purposes
from ticketry.core.db import Database
from ticketry.history.models import TicketEvent
from ticketry.realtime.broker import PG_CHANNEL, Event, hub, listen_postgres
from ticketry.tickets import watchers as watcher_service
from ticketry.tickets.models import ticket_watchers
from ticketry.users.models import User

mailserver = smtp_fixtures.mailserver


@pytest.fixture
def cast(db: Database) -> dict[str, Persona]:
    return {
        "customer": make_customer(db),
        "agent": make_agent(db, departments=("technical",)),
        "colleague": make_agent(db, departments=("technical",)),
        "billing": make_agent(db, departments=("billing",)),
        "admin": make_admin(db),
    }


def new_ticket(client: TestClient, customer: Persona, department: str = "technical") -> int:
    return int(str(api_ticket(client, customer, department=department)["id"]))


def watcher_ids(db: Database, ticket_id: int) -> set[int]:
    with db.unit_of_work(write=False) as session:
        query = select(ticket_watchers.c.user_id).where(ticket_watchers.c.ticket_id == ticket_id)
        return set(session.scalars(query))


def events_of(db: Database, ticket_id: int, field: str) -> list[TicketEvent]:
    with db.unit_of_work(write=False) as session:
        query = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id, TicketEvent.field == field)
        return list(session.scalars(query.order_by(TicketEvent.id)))


class TestWatch:
    def test_an_agent_watches_and_unwatches_a_ticket_of_their_department(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        agent = cast["agent"]
        ticket_id = new_ticket(client, cast["customer"])
        response = client.post(f"/api/v1/tickets/{ticket_id}/watch", headers=agent.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["watching"] is True
        assert [w["id"] for w in body["data"]] == [agent.id]
        assert body["pagination"]["total"] == 1
        assert watcher_ids(db, ticket_id) == {agent.id}

        listed = client.get(f"/api/v1/tickets/{ticket_id}/watchers", headers=cast["colleague"].headers)
        assert listed.status_code == 200
        assert listed.json()["watching"] is False
        assert [w["name"] for w in listed.json()["data"]] == [agent.actor.name]

        gone = client.delete(f"/api/v1/tickets/{ticket_id}/watch", headers=agent.headers)
        assert gone.status_code == 200
        assert gone.json() == {
            "data": [],
            "pagination": {"total": 0, "page": 1, "pageSize": 1, "totalPages": 0, "totalCapped": False},
            "watching": False,
        }
        assert watcher_ids(db, ticket_id) == set()

    def test_watching_twice_and_unwatching_twice_change_nothing(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        agent = cast["agent"]
        ticket_id = new_ticket(client, cast["customer"])
        for _ in range(2):
            assert client.post(f"/api/v1/tickets/{ticket_id}/watch", headers=agent.headers).status_code == 200
        assert watcher_ids(db, ticket_id) == {agent.id}
        for _ in range(2):
            assert (
                client.delete(f"/api/v1/tickets/{ticket_id}/watch", headers=agent.headers).status_code == 200
            )
        assert watcher_ids(db, ticket_id) == set()
        events = events_of(db, ticket_id, "watchers")
        assert [(e.old_value, e.new_value) for e in events] == [
            (None, agent.actor.name),
            (agent.actor.name, None),
        ]
        assert all(e.is_internal for e in events), "watchers are staff-only history"

    def test_the_staff_ticket_view_lists_the_watchers(
        self, client: TestClient, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast["customer"])
        client.post(f"/api/v1/tickets/{ticket_id}/watch", headers=cast["agent"].headers)
        view = client.get(f"/api/v1/tickets/{ticket_id}", headers=cast["colleague"].headers).json()
        assert view["watchers"] == [{"id": cast["agent"].id, "name": cast["agent"].actor.name}]
        mine = client.get(f"/api/v1/tickets/{ticket_id}", headers=cast["customer"].headers).json()
        assert "watchers" not in mine

    def test_an_agent_cannot_watch_a_ticket_they_cannot_see(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        """Watching would grant access: it must not be a way in."""
        ticket_id = new_ticket(client, cast["customer"], department="technical")
        outsider = cast["billing"]
        response = client.post(f"/api/v1/tickets/{ticket_id}/watch", headers=outsider.headers)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "ticket_not_found"
        assert watcher_ids(db, ticket_id) == set()
        assert client.get(f"/api/v1/tickets/{ticket_id}", headers=outsider.headers).status_code == 404

    def test_a_deleted_ticket_cannot_be_watched(self, client: TestClient, cast: dict[str, Persona]) -> None:
        ticket_id = new_ticket(client, cast["customer"])
        client.delete(f"/api/v1/tickets/{ticket_id}", headers=cast["admin"].headers)
        assert (
            client.post(f"/api/v1/tickets/{ticket_id}/watch", headers=cast["agent"].headers).status_code
            == 404
        )
        refused = client.post(f"/api/v1/tickets/{ticket_id}/watch", headers=cast["admin"].headers)
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "ticket_deleted"


class TestAddWatcher:
    def test_an_admin_adds_an_agent_who_then_sees_the_ticket_until_removed(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast["customer"], department="technical")
        admin, outsider = cast["admin"], cast["billing"]
        assert client.get(f"/api/v1/tickets/{ticket_id}", headers=outsider.headers).status_code == 404
        added = client.post(
            f"/api/v1/tickets/{ticket_id}/watchers", json={"userId": outsider.id}, headers=admin.headers
        )
        assert added.status_code == 200, added.text
        assert [w["id"] for w in added.json()["data"]] == [outsider.id]
        assert client.get(f"/api/v1/tickets/{ticket_id}", headers=outsider.headers).status_code == 200
        watched = client.get("/api/v1/tickets?watched=true", headers=outsider.headers).json()
        assert [t["id"] for t in watched["data"]] == [ticket_id]

        removed = client.delete(f"/api/v1/tickets/{ticket_id}/watchers/{outsider.id}", headers=admin.headers)
        assert removed.status_code == 200
        assert removed.json()["data"] == []
        assert client.get(f"/api/v1/tickets/{ticket_id}", headers=outsider.headers).status_code == 404

    def test_unwatching_removes_the_access_watching_gave(
        self, client: TestClient, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast["customer"], department="technical")
        outsider = cast["billing"]
        client.post(
            f"/api/v1/tickets/{ticket_id}/watchers",
            json={"user_id": outsider.id},
            headers=cast["admin"].headers,
        )
        assert (
            client.delete(f"/api/v1/tickets/{ticket_id}/watch", headers=outsider.headers).status_code == 200
        )
        assert client.get(f"/api/v1/tickets/{ticket_id}", headers=outsider.headers).status_code == 404
        again = client.delete(f"/api/v1/tickets/{ticket_id}/watch", headers=outsider.headers)
        assert again.status_code == 404

    def test_agents_may_not_add_others(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast["customer"])
        response = client.post(
            f"/api/v1/tickets/{ticket_id}/watchers",
            json={"userId": cast["colleague"].id},
            headers=cast["agent"].headers,
        )
        assert response.status_code == 403
        assert response.json()["error"]["details"] == {"permission": "tickets:watchers"}
        removing = client.delete(
            f"/api/v1/tickets/{ticket_id}/watchers/{cast['colleague'].id}", headers=cast["agent"].headers
        )
        assert removing.status_code == 403
        assert watcher_ids(db, ticket_id) == set()

    def test_customers_and_inactive_users_can_never_be_watchers(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast["customer"])
        admin = cast["admin"]
        customer = client.post(
            f"/api/v1/tickets/{ticket_id}/watchers",
            json={"userId": cast["customer"].id},
            headers=admin.headers,
        )
        assert customer.status_code == 422
        assert customer.json()["error"]["code"] == "not_an_agent"
        with db.unit_of_work() as session:
            session.execute(update(User).where(User.id == cast["colleague"].id).values(is_active=False))
        inactive = client.post(
            f"/api/v1/tickets/{ticket_id}/watchers",
            json={"userId": cast["colleague"].id},
            headers=admin.headers,
        )
        assert inactive.status_code == 404
        nobody = client.post(
            f"/api/v1/tickets/{ticket_id}/watchers", json={"userId": 999_999}, headers=admin.headers
        )
        assert nobody.status_code == 404
        assert watcher_ids(db, ticket_id) == set()


class TestCustomers:
    def test_customers_get_nothing_about_watchers_of_their_own_ticket(
        self, client: TestClient, cast: dict[str, Persona]
    ) -> None:
        customer = cast["customer"]
        ticket_id = new_ticket(client, customer)
        client.post(f"/api/v1/tickets/{ticket_id}/watch", headers=cast["agent"].headers)
        base = f"/api/v1/tickets/{ticket_id}"
        for method, path, body in (
            ("GET", f"{base}/watchers", None),
            ("POST", f"{base}/watch", None),
            ("DELETE", f"{base}/watch", None),
            ("POST", f"{base}/watchers", {"userId": customer.id}),
            ("DELETE", f"{base}/watchers/{cast['agent'].id}", None),
        ):
            response = client.request(method, path, json=body, headers=customer.headers)
            assert response.status_code == 403, (method, path, response.text)
            assert cast["agent"].actor.name not in response.text


# --- notifications ----------------------------------------------------------------------------


class TestWatcherMail:
    def test_a_watcher_hears_of_replies_notes_status_and_field_changes(
        self, client: TestClient, db: Database, mailserver: MailServer, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast["customer"])
        watcher, worker = cast["colleague"], cast["agent"]
        client.post(f"/api/v1/tickets/{ticket_id}/watch", headers=watcher.headers)
        deliver(db, mailserver)

        make_message(db, worker, ticket_id, body="Checked the fuse.", internal=True)
        client.put(f"/api/v1/tickets/{ticket_id}/status", json={"status": "on_hold"}, headers=worker.headers)
        client.patch(f"/api/v1/tickets/{ticket_id}", json={"priority": "high"}, headers=worker.headers)
        deliver(db, mailserver)
        received = mailserver.to(watcher.email)
        assert len(received) == 3
        everything = "\n".join(content(m) for m in received)
        assert "Checked the fuse." in everything
        assert "On hold" in everything
        assert "priority changed" in everything
        assert purposes(db, watcher.id).count("watched_ticket") == 3
        assert mailserver.to(worker.email) == [], "never one's own change"

    def test_after_unwatching_no_more_mail(
        self, client: TestClient, db: Database, mailserver: MailServer, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast["customer"])
        watcher = cast["colleague"]
        client.post(f"/api/v1/tickets/{ticket_id}/watch", headers=watcher.headers)
        client.delete(f"/api/v1/tickets/{ticket_id}/watch", headers=watcher.headers)
        deliver(db, mailserver)
        client.put(
            f"/api/v1/tickets/{ticket_id}/status", json={"status": "on_hold"}, headers=cast["agent"].headers
        )
        deliver(db, mailserver)
        assert mailserver.to(watcher.email) == []


def _collect(
    database_url: str, channel: str, action: Callable[[], Any], *, settle: float = 1.0
) -> list[Event]:
    """Subscribe to `channel` the way the SSE endpoint does, run `action` (in a thread: it runs
    jobs that commit), and return what arrived. On PostgreSQL the events come back through
    LISTEN/NOTIFY like in a real deployment: the listener is started and probed first."""

    async def run() -> list[Event]:
        stop = threading.Event()
        postgres = database_url.startswith("postgresql")
        listener = None
        if postgres:
            listener = threading.Thread(target=listen_postgres, args=(database_url, stop), daemon=True)
            listener.start()
        try:
            with hub.subscribe(frozenset({channel, "probe"})) as subscription:
                if postgres:
                    await _probe(database_url, subscription.queue)
                await asyncio.to_thread(action)
                found: list[Event] = []
                while True:
                    try:
                        item = await asyncio.wait_for(subscription.queue.get(), timeout=settle)
                    except TimeoutError:
                        return found
                    if item.channel == channel:
                        found.append(item)
        finally:
            stop.set()
            if listener is not None:
                listener.join(timeout=5)

    # In a thread of its own: Playwright's sync API (the browser tests, earlier in the same run)
    # leaves an event loop running in the main thread, where asyncio.run() refuses to start.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


async def _probe(database_url: str, queue: asyncio.Queue[Event]) -> None:
    """NOTIFY until the listener relays one: from then on nothing is missed."""
    probe_db = Database.connect(database_url, pool_size=1)
    try:
        for _ in range(100):
            with probe_db.unit_of_work() as session:
                payload = json.dumps({"channel": "probe", "kind": "probe"})
                session.execute(text("SELECT pg_notify(:c, :p)"), {"c": PG_CHANNEL, "p": payload})
            try:
                await asyncio.wait_for(queue.get(), timeout=0.2)
                return
            except TimeoutError:
                continue
        raise AssertionError("the PostgreSQL listener never relayed an event")
    finally:
        probe_db.dispose()


class TestWatcherLive:
    def test_a_watcher_with_the_desk_open_is_told_live_with_the_number_only(
        self, client: TestClient, db: Database, database_url: str, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast["customer"])
        watcher, worker = cast["colleague"], cast["agent"]
        client.post(f"/api/v1/tickets/{ticket_id}/watch", headers=watcher.headers)
        deliver(db)
        number = client.get(f"/api/v1/tickets/{ticket_id}", headers=worker.headers).json()["number"]

        def change() -> None:
            make_message(db, worker, ticket_id, body="A secret-ish note body", internal=True)
            client.put(
                f"/api/v1/tickets/{ticket_id}/status", json={"status": "on_hold"}, headers=worker.headers
            )
            deliver(db)

        events = _collect(database_url, f"user:{watcher.id}", change)
        assert [e.kind for e in events] == ["watched", "watched"]
        details = [json.loads(e.detail) for e in events]
        assert details == [
            {"ticketId": ticket_id, "number": number, "change": "a new internal note"},
            {"ticketId": ticket_id, "number": number, "change": "status set to On hold"},
        ]
        assert all("secret-ish" not in e.detail for e in events), "no content over the live channel"

    def test_the_one_who_made_the_change_and_non_watchers_are_not_told(
        self, client: TestClient, db: Database, database_url: str, cast: dict[str, Persona]
    ) -> None:
        ticket_id = new_ticket(client, cast["customer"])
        worker = cast["agent"]
        client.post(f"/api/v1/tickets/{ticket_id}/watch", headers=worker.headers)
        deliver(db)
        url = database_url

        def change() -> None:
            client.put(
                f"/api/v1/tickets/{ticket_id}/status", json={"status": "on_hold"}, headers=worker.headers
            )
            deliver(db)

        assert _collect(url, f"user:{worker.id}", change, settle=0.5) == []

        def another() -> None:
            client.put(
                f"/api/v1/tickets/{ticket_id}/status", json={"status": "in_progress"}, headers=worker.headers
            )
            deliver(db)

        assert _collect(url, f"user:{cast['colleague'].id}", another, settle=0.5) == []


class TestService:
    def test_list_watchers_is_ordered_by_name(self, db: Database, cast: dict[str, Persona]) -> None:
        with db.unit_of_work() as session:
            from ticketry.tickets import service as ticket_service

            ticket = ticket_service.create_ticket(
                session, cast["customer"].actor, title="Order", description="x", department="technical"
            )
            watcher_service.add_watcher(session, cast["admin"].actor, ticket.id, cast["colleague"].id)
            watcher_service.add_watcher(session, cast["admin"].actor, ticket.id, cast["agent"].id)
            names = [u.name for u in watcher_service.list_watchers(session, cast["agent"].actor, ticket.id)]
        assert names == sorted(names)
        assert len(names) == 2
