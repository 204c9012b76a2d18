"""The desk ticket sidebar: the Watchers card (watch toggle, admins add and remove) and the
Linked tickets card (list with relation and status, add by number, remove)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from tests.factories import Persona, api_ticket, make_admin, make_agent, make_customer, web_session

from ticketry.core.db import Database


def browse_as(client: TestClient, db: Database, persona: Persona) -> str:
    cookie, csrf = web_session(db, persona)
    client.cookies.set("ticketry_session", cookie)
    return csrf


def card(page: str, section_id: str) -> str:
    found = re.search(rf'<section class="card" id="{section_id}".*?</section>', page, re.S)
    assert found, f"no #{section_id} card"
    return found.group(0)


class TestWatchersCard:
    def test_an_agent_watches_and_unwatches_from_the_sidebar(self, client: TestClient, db: Database) -> None:
        customer, agent = make_customer(db), make_agent(db)
        ticket = api_ticket(client, customer, department="technical")
        csrf = browse_as(client, db, agent)
        page = client.get(f"/desk/tickets/{ticket['id']}").text
        watchers = card(page, "watchers")
        assert "Nobody watches this ticket." in watchers
        assert ">Watch</button>" in watchers and 'aria-keyshortcuts="w"' in watchers
        assert "Add watcher" not in watchers, "adding others is for admins"

        done = client.post(
            f"/desk/tickets/{ticket['id']}/watch", data={"csrf_token": csrf, "watching": "true"}
        )
        assert done.status_code == 200
        watchers = card(done.text, "watchers")
        assert "You are watching this ticket." in done.text
        assert agent.actor.name in watchers and "(you)" in watchers
        assert ">Unwatch</button>" in watchers

        done = client.post(
            f"/desk/tickets/{ticket['id']}/watch", data={"csrf_token": csrf, "watching": "false"}
        )
        assert "You stopped watching this ticket." in done.text
        assert "Nobody watches this ticket." in card(done.text, "watchers")

    def test_an_admin_adds_and_removes_a_watcher(self, client: TestClient, db: Database) -> None:
        customer, agent, admin = make_customer(db), make_agent(db), make_admin(db)
        ticket = api_ticket(client, customer, department="technical")
        csrf = browse_as(client, db, admin)
        watchers = card(client.get(f"/desk/tickets/{ticket['id']}").text, "watchers")
        assert f'<option value="{agent.id}">{agent.actor.name}</option>' in watchers
        assert f'<option value="{customer.id}"' not in watchers, "customers are never offered"

        done = client.post(
            f"/desk/tickets/{ticket['id']}/watchers", data={"csrf_token": csrf, "user_id": agent.id}
        )
        watchers = card(done.text, "watchers")
        assert "Watcher added." in done.text
        assert f'aria-label="Remove {agent.actor.name} from the watchers"' in watchers
        assert f'<option value="{agent.id}">' not in watchers

        done = client.post(
            f"/desk/tickets/{ticket['id']}/watchers/{agent.id}/remove", data={"csrf_token": csrf}
        )
        assert "Watcher removed." in done.text
        assert "Nobody watches this ticket." in card(done.text, "watchers")

    def test_unwatching_a_ticket_seen_only_as_a_watcher_goes_back_to_the_desk(
        self, client: TestClient, db: Database
    ) -> None:
        customer, outsider, admin = (
            make_customer(db),
            make_agent(db, departments=("billing",)),
            make_admin(db),
        )
        ticket = api_ticket(client, customer, department="technical")
        client.post(
            f"/api/v1/tickets/{ticket['id']}/watchers", json={"userId": outsider.id}, headers=admin.headers
        )
        csrf = browse_as(client, db, outsider)
        assert client.get(f"/desk/tickets/{ticket['id']}").status_code == 200
        done = client.post(
            f"/desk/tickets/{ticket['id']}/watch",
            data={"csrf_token": csrf, "watching": "false"},
            follow_redirects=False,
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/desk"
        assert client.get(f"/desk/tickets/{ticket['id']}").status_code == 404

    def test_the_shortcut_is_listed_and_the_script_loaded_for_staff_only(
        self, client: TestClient, db: Database
    ) -> None:
        customer, agent = make_customer(db), make_agent(db)
        ticket = api_ticket(client, customer, department="technical")
        browse_as(client, db, agent)
        page = client.get(f"/desk/tickets/{ticket['id']}").text
        assert '<script src="/static/watch.js" defer></script>' in page
        assert "<kbd>w</kbd>" in page
        browse_as(client, db, customer)
        portal = client.get(f"/tickets/{ticket['id']}").text
        assert "watch.js" not in portal


class TestLinksCard:
    def test_link_by_number_shows_relation_and_status_then_remove(
        self, client: TestClient, db: Database
    ) -> None:
        customer, agent = make_customer(db), make_agent(db)
        parent = api_ticket(client, customer, title="Outage in building B", department="technical")
        child = api_ticket(client, customer, title="My printer is offline", department="technical")
        csrf = browse_as(client, db, agent)
        links = card(client.get(f"/desk/tickets/{child['id']}").text, "links")
        assert "No linked tickets." in links
        assert '<option value="child">a child of</option>' in links

        done = client.post(
            f"/desk/tickets/{child['id']}/links",
            data={"csrf_token": csrf, "other": parent["number"], "kind": "child"},
        )
        assert f"Linked: this ticket is child of {parent['number']}." in done.text
        links = card(done.text, "links")
        assert "Child of" in links and parent["number"] in links and "Outage in building B" in links
        assert 'class="badge status-open"' in links

        other_side = card(client.get(f"/desk/tickets/{parent['id']}").text, "links")
        assert "Parent of" in other_side and child["number"] in other_side
        assert "parent of ticket" in client.get(f"/desk/tickets/{parent['id']}").text, "history"

        link_id = re.search(r'data-link="(\d+)"', links)
        assert link_id
        done = client.post(
            f"/desk/tickets/{child['id']}/links/{link_id.group(1)}/remove", data={"csrf_token": csrf}
        )
        assert "Link removed." in done.text
        assert "No linked tickets." in card(done.text, "links")

    def test_a_refused_link_comes_back_as_an_error(self, client: TestClient, db: Database) -> None:
        customer, agent = make_customer(db), make_agent(db)
        ticket = api_ticket(client, customer, department="technical")
        csrf = browse_as(client, db, agent)
        done = client.post(
            f"/desk/tickets/{ticket['id']}/links",
            data={"csrf_token": csrf, "other": str(ticket["id"]), "kind": "related"},
            headers={"Referer": f"http://testserver/desk/tickets/{ticket['id']}"},
        )
        assert "cannot be linked to itself" in done.text
        assert "No linked tickets." in card(done.text, "links")
