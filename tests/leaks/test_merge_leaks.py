"""Merged and split threads (issue 6 part 6, part 8 "merged threads"): after customer A's ticket is
merged into customer B's, A must never see B's content by any path, notes that moved stay staff
only, and a ticket split off another customer's ticket stays invisible.

A's own messages move to B's ticket and A no longer sees them there: that is the merge's meaning
(the agent chose it; A is told "closed as a duplicate"). What must never happen is the reverse.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import (
    Persona,
    api_ticket,
    make_admin,
    make_agent,
    make_customer,
    staff_keys_in,
    web_session,
)
from tests.leaks.scene import NOTE_WORD, PUBLIC_WORD, Scene, markers_in, ok, worked_ticket
from ticketry.core.db import Database
from ticketry.jobs.worker import Worker
from ticketry.mail.log.models import MailLog

B_WORD = "bobprivateword"
A_NOTE_WORD = "wallabynoteword"
# Nothing of B's ticket may reach A.
B_MARKERS = (B_WORD, PUBLIC_WORD, "Printer on fire", "It smokes")


@dataclass(frozen=True)
class Merged:
    scene: Scene  # B's worked ticket: the primary
    a: Persona
    secondary_id: int
    primary_number: str


def merged(client: TestClient, db: Database) -> Merged:
    scene = worked_ticket(client, db)  # customer B, with notes, files, tags, a public reply
    b = scene.customer
    ok(
        client.post(
            f"/api/v1/tickets/{scene.ticket_id}/replies", json={"message": f"My {B_WORD}."}, headers=b.headers
        ),
        201,
    )
    a = make_customer(db)
    secondary = ok(
        client.post(
            "/api/v1/tickets",
            json={
                "title": "Printing trouble",
                "description": "Mine does not print.",
                "department": "technical",
            },
            headers=a.headers,
        ),
        201,
    )
    ok(
        client.post(
            f"/api/v1/tickets/{secondary['id']}/replies",
            json={"message": f"A {A_NOTE_WORD} about A.", "isInternal": True},
            headers=scene.agent.headers,
        ),
        201,
    )
    ok(
        client.post(
            f"/api/v1/tickets/{scene.ticket_id}/merge",
            json={"ticketIds": [secondary["id"]], "confirmDifferentCustomers": True},
            headers=scene.agent.headers,
        ),
        201,
    )
    primary = ok(client.get(f"/api/v1/tickets/{scene.ticket_id}", headers=scene.agent.headers))
    return Merged(scene=scene, a=a, secondary_id=int(secondary["id"]), primary_number=str(primary["number"]))


def b_content(text: str, number: str) -> list[str]:
    found = [m for m in (*B_MARKERS, number) if m.lower() in text.lower()]
    return found + markers_in(text)


class TestCustomerOfTheSecondary:
    def test_api_paths(self, client: TestClient, db: Database) -> None:
        m = merged(client, db)
        a = m.a.headers
        primary = f"/api/v1/tickets/{m.scene.ticket_id}"
        for path in (primary, f"{primary}/replies", f"{primary}/history", f"{primary}/merges"):
            response = client.get(path, headers=a)
            assert response.status_code == 404, (path, response.text)
            assert b_content(response.text, m.primary_number) == []
        secondary = f"/api/v1/tickets/{m.secondary_id}"
        for path in (
            secondary,
            f"{secondary}/replies",
            f"{secondary}/history",
            "/api/v1/tickets",
            "/api/v1/tickets/my-tickets",
            f"/api/v1/tickets?q={B_WORD}",
            f"/api/v1/tickets?q={PUBLIC_WORD}",
            "/api/v1/tickets?status=closed",
        ):
            response = client.get(path, headers=a)
            assert response.status_code == 200, (path, response.text)
            assert b_content(response.text, m.primary_number) == [], path
            assert A_NOTE_WORD not in response.text, path
            assert staff_keys_in(response.json()) == set(), path
            assert "mergedIntoId" not in response.text
        listed = ok(client.get("/api/v1/tickets", headers=a))["data"]
        assert [t["id"] for t in listed] == [m.secondary_id]
        merges = client.get(f"{secondary}/merges", headers=a)
        assert merges.status_code == 403 and set(merges.json()) == {"error"}

    def test_write_paths_refuse_without_revealing(self, client: TestClient, db: Database) -> None:
        m = merged(client, db)
        a = m.a.headers
        secondary = f"/api/v1/tickets/{m.secondary_id}"
        for method, path, body in (
            ("post", f"{secondary}/replies", {"message": "hello"}),
            ("post", f"{secondary}/reopen", None),
            ("post", f"{secondary}/unmerge", None),
            ("post", f"/api/v1/tickets/{m.scene.ticket_id}/replies", {"message": "hi"}),
            ("post", f"/api/v1/tickets/{m.scene.ticket_id}/split", {"messageIds": [m.scene.reply_id]}),
        ):
            response = client.request(method.upper(), path, json=body, headers=a)
            assert response.status_code in (403, 404, 409), (path, response.status_code)
            assert b_content(response.text, m.primary_number) == [], (path, response.text)

    def test_portal_pages(self, client: TestClient, db: Database) -> None:
        m = merged(client, db)
        cookie, _ = web_session(db, m.a)
        client.cookies.set("ticketry_session", cookie)
        for path in ("/", "/?tab=closed", "/?tab=all", f"/tickets/{m.secondary_id}", f"/?tab=all&q={B_WORD}"):
            response = client.get(path)
            assert response.status_code == 200, path
            # The page repeats the query itself (search box, tab links, "No tickets match").
            shown = response.text.replace(f"q={B_WORD}", "").replace(f'value="{B_WORD}"', "")
            shown = shown.replace(f"match “{B_WORD}”", "")
            assert b_content(shown, m.primary_number) == [], path
            assert A_NOTE_WORD not in response.text
            assert f'href="/tickets/{m.scene.ticket_id}"' not in response.text
        assert client.get(f"/tickets/{m.scene.ticket_id}").status_code == 404
        assert "closed as a duplicate" in client.get(f"/tickets/{m.secondary_id}").text

    def test_the_merge_mail(self, client: TestClient, db: Database) -> None:
        m = merged(client, db)
        Worker(db, retry_base_seconds=0).run_until_idle()
        with db.unit_of_work(write=False) as session:
            mails = list(session.scalars(select(MailLog).where(MailLog.user_id == m.a.id)))
        assert [x.purpose for x in mails if x.purpose == "ticket_merged"] == ["ticket_merged"]
        for entry in mails:
            text = (entry.raw or b"").decode("utf-8", "replace") + entry.subject
            assert b_content(text, m.primary_number) == [], entry.purpose
            assert A_NOTE_WORD not in text


class TestCustomerOfThePrimary:
    def test_the_moved_note_stays_staff_only(self, client: TestClient, db: Database) -> None:
        m = merged(client, db)
        b = m.scene.customer.headers
        replies = client.get(f"/api/v1/tickets/{m.scene.ticket_id}/replies", headers=b)
        assert replies.status_code == 200
        assert A_NOTE_WORD not in replies.text and NOTE_WORD not in replies.text
        assert staff_keys_in(replies.json()) == set()
        history = client.get(f"/api/v1/tickets/{m.scene.ticket_id}/history", headers=b)
        assert "merged_from" not in history.text, "the merge is a staff-only event"
        assert client.get(f"/api/v1/tickets/{m.secondary_id}", headers=b).status_code == 404
        cookie, _ = web_session(db, m.scene.customer)
        client.cookies.set("ticketry_session", cookie)
        page = client.get(f"/tickets/{m.scene.ticket_id}")
        assert page.status_code == 200
        assert A_NOTE_WORD not in page.text and markers_in(page.text) == []
        assert "moved-badge" not in page.text and f"/desk/tickets/{m.secondary_id}" not in page.text

    def test_staff_do_see_it(self, client: TestClient, db: Database) -> None:
        """Control: the note did move to the primary, so the checks above can fail."""
        m = merged(client, db)
        replies = client.get(f"/api/v1/tickets/{m.scene.ticket_id}/replies", headers=m.scene.agent.headers)
        assert A_NOTE_WORD in replies.text


class TestSplit:
    @pytest.mark.parametrize("via", ["api", "portal"])
    def test_a_ticket_split_off_another_customers_ticket_is_invisible(
        self, client: TestClient, db: Database, via: str
    ) -> None:
        scene = worked_ticket(client, db)
        stranger = make_customer(db)
        new = ok(
            client.post(
                f"/api/v1/tickets/{scene.ticket_id}/split",
                json={"messageIds": [scene.reply_id, scene.note_id]},
                headers=scene.agent.headers,
            ),
            201,
        )
        if via == "api":
            for path in (f"/api/v1/tickets/{new['id']}", f"/api/v1/tickets/{new['id']}/replies"):
                response = client.get(path, headers=stranger.headers)
                assert response.status_code == 404 and markers_in(response.text) == []
            assert ok(client.get("/api/v1/tickets", headers=stranger.headers))["data"] == []
            own = ok(client.get(f"/api/v1/tickets/{new['id']}/replies", headers=scene.customer.headers))
            assert [r["id"] for r in own["data"]] == [scene.reply_id], "the split-off note stays staff-only"
        else:
            cookie, _ = web_session(db, stranger)
            client.cookies.set("ticketry_session", cookie)
            assert client.get(f"/tickets/{new['id']}").status_code == 404
            assert new["number"] not in client.get("/?tab=all").text


def test_a_merge_does_not_open_the_primary_to_the_duplicates_watchers(
    client: TestClient, db: Database
) -> None:
    """Watching lets an agent see a ticket: a billing agent watching a billing duplicate must not
    be carried onto a technical primary (and so into it) by the merge."""
    customer = make_customer(db)
    admin = make_admin(db)
    billing_agent = make_agent(db, departments=("billing",))
    tech_agent = make_agent(db, departments=("technical",))
    primary = api_ticket(client, customer, title="Zorillaprimary VPN down", department="technical")
    duplicate = api_ticket(client, customer, title="VPN down again", department="billing")
    for agent in (billing_agent, tech_agent):
        watched = client.post(f"/api/v1/tickets/{duplicate['id']}/watch", headers=agent.headers)
        assert watched.status_code in (200, 404), watched.text
    merged = client.post(
        f"/api/v1/tickets/{primary['id']}/merge",
        json={"ticketIds": [duplicate["id"]], "confirmDifferentCustomers": True},
        headers=admin.headers,
    )
    assert merged.status_code == 201, merged.text
    assert client.get(f"/api/v1/tickets/{primary['id']}", headers=billing_agent.headers).status_code == 404
    listed = client.get("/api/v1/tickets?q=Zorillaprimary", headers=billing_agent.headers)
    assert "Zorillaprimary" not in listed.text
    watchers = client.get(f"/api/v1/tickets/{primary['id']}/watchers", headers=admin.headers).json()["data"]
    assert billing_agent.id not in {w["id"] for w in watchers}
