"""Tags (issue 6 part 2): counted, autocompleted, created by admins (and by agents while the
setting allows), renamed, merged, deleted; added and removed on tickets one at a time and in
bulk; lists filtered by several tags, all or any."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Persona, api_ticket, make_admin, make_agent, make_customer
from tests.mail_admin import Browser, flash
from ticketry.core.db import Database
from ticketry.history.models import TicketEvent


@pytest.fixture
def cast(db: Database) -> dict[str, Persona]:
    return {
        "customer": make_customer(db),
        "agent": make_agent(db, departments=("technical",)),
        "billing": make_agent(db, departments=("billing",)),
        "admin": make_admin(db),
    }


def tagged(client: TestClient, who: Persona, ticket_id: Any, *names: str) -> Any:
    response = client.patch(f"/api/v1/tickets/{ticket_id}", json={"tags": list(names)}, headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


def tags_of(client: TestClient, who: Persona, **params: Any) -> dict[str, int]:
    response = client.get("/api/v1/tags", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    return {t["name"]: t["count"] for t in response.json()["data"]}


def titles(client: TestClient, who: Persona, query: str) -> list[str]:
    response = client.get(f"/api/v1/tickets?{query}&sort=number&order=asc", headers=who.headers)
    assert response.status_code == 200, response.text
    return [t["title"] for t in response.json()["data"]]


def offered(page: str, datalist: str) -> list[str]:
    """The names a picker's datalist offers."""
    found = re.search(f'<datalist id="{datalist}">(.*?)</datalist>', page, re.DOTALL)
    assert found is not None, f"no datalist {datalist}"
    return re.findall(r'<option value="([^"]*)">', found.group(1))


class TestFilter:
    def test_several_tags_all_or_any(self, client: TestClient, cast: dict[str, Persona]) -> None:
        agent = cast["agent"]
        a = api_ticket(client, cast["customer"], title="A", department="technical")
        b = api_ticket(client, cast["customer"], title="B", department="technical")
        api_ticket(client, cast["customer"], title="C", department="technical")
        tagged(client, agent, a["id"], "vip", "refund")
        tagged(client, agent, b["id"], "vip")
        assert titles(client, agent, "tag=vip&tag=refund") == ["A"]
        assert titles(client, agent, "tag=vip&tag=refund&tag_mode=all") == ["A"]
        assert titles(client, agent, "tag=refund&tag=vip&tag_mode=any") == ["A", "B"]
        assert titles(client, agent, "tag=VIP") == ["A", "B"]
        assert client.get("/api/v1/tickets?tag=vip&tag_mode=some", headers=agent.headers).status_code == 422

    def test_a_list_shows_a_tickets_tags_by_name(self, client: TestClient, cast: dict[str, Persona]) -> None:
        """Read with the list's rows (`search.rows._tags`), in the order a ticket shows them."""
        agent = cast["agent"]
        ticket = api_ticket(client, cast["customer"], title="A", department="technical")
        tagged(client, agent, ticket["id"], "zeta", "alpha", "mid")
        listed = client.get("/api/v1/tickets", headers=agent.headers).json()["data"]
        shown = client.get(f"/api/v1/tickets/{ticket['id']}", headers=agent.headers).json()["tags"]
        assert [tag["name"] for tag in listed[0]["tags"]] == ["alpha", "mid", "zeta"]
        assert listed[0]["tags"] == shown


class TestCountsAndAutocomplete:
    def test_counts_per_tag_only_over_tickets_the_reader_sees(
        self, client: TestClient, cast: dict[str, Persona]
    ) -> None:
        tech = api_ticket(client, cast["customer"], title="Tech", department="technical")
        bill = api_ticket(client, cast["customer"], title="Bill", department="billing")
        tagged(client, cast["admin"], tech["id"], "vip")
        tagged(client, cast["admin"], bill["id"], "vip", "refund")
        assert tags_of(client, cast["admin"]) == {"refund": 1, "vip": 2}
        assert tags_of(client, cast["agent"]) == {"refund": 0, "vip": 1}
        assert list(tags_of(client, cast["admin"], sort="count")) == ["vip", "refund"]

    def test_autocomplete_by_prefix(self, client: TestClient, cast: dict[str, Persona]) -> None:
        for name in ("refund", "refurbish", "vip"):
            assert (
                client.post("/api/v1/tags", json={"name": name}, headers=cast["admin"].headers).status_code
                == 201
            )
        assert list(tags_of(client, cast["agent"], q="REF")) == ["refund", "refurbish"]
        assert list(tags_of(client, cast["agent"], q="%")) == []


class TestManaging:
    def test_admins_rename_recolour_merge_and_delete(
        self, client: TestClient, cast: dict[str, Persona]
    ) -> None:
        admin = cast["admin"]
        a = api_ticket(client, cast["customer"], title="A", department="technical")
        b = api_ticket(client, cast["customer"], title="B", department="technical")
        tagged(client, admin, a["id"], "refund", "vip")
        tagged(client, admin, b["id"], "money back")
        ids = {t["name"]: t["id"] for t in client.get("/api/v1/tags", headers=admin.headers).json()["data"]}
        renamed = client.patch(
            f"/api/v1/tags/{ids['vip']}",
            json={"name": " Very  Important ", "color": "#2563EB"},
            headers=admin.headers,
        )
        assert renamed.json() == {"id": ids["vip"], "name": "very important", "color": "#2563eb"}
        taken = client.patch(
            f"/api/v1/tags/{ids['refund']}", json={"name": "money back"}, headers=admin.headers
        )
        assert taken.status_code == 409 and "merge" in taken.json()["error"]["message"]
        merged = client.post(
            f"/api/v1/tags/{ids['money back']}/merge", json={"intoId": ids["refund"]}, headers=admin.headers
        )
        assert merged.status_code == 200, merged.text
        assert tags_of(client, admin) == {"refund": 2, "very important": 1}
        assert (
            client.post(
                f"/api/v1/tags/{ids['refund']}/merge", json={"intoId": ids["refund"]}, headers=admin.headers
            ).status_code
            == 422
        )
        assert client.delete(f"/api/v1/tags/{ids['refund']}", headers=admin.headers).status_code == 204
        detail = client.get(f"/api/v1/tickets/{a['id']}", headers=admin.headers).json()
        assert [t["name"] for t in detail["tags"]] == ["very important"]
        assert (
            client.patch(
                f"/api/v1/tags/{ids['vip']}", json={"color": "red"}, headers=admin.headers
            ).status_code
            == 422
        )

    def test_agents_do_not_manage_tags(self, client: TestClient, cast: dict[str, Persona]) -> None:
        created = client.post("/api/v1/tags", json={"name": "mine"}, headers=cast["admin"].headers).json()
        agent = cast["agent"].headers
        assert (
            client.patch(f"/api/v1/tags/{created['id']}", json={"name": "x"}, headers=agent).status_code
            == 403
        )
        assert client.delete(f"/api/v1/tags/{created['id']}", headers=agent).status_code == 403
        assert (
            client.post(f"/api/v1/tags/{created['id']}/merge", json={"intoId": 1}, headers=agent).status_code
            == 403
        )

    def test_the_setting_decides_whether_agents_create_tags(
        self, client: TestClient, cast: dict[str, Persona]
    ) -> None:
        agent, admin = cast["agent"], cast["admin"]
        ticket = api_ticket(client, cast["customer"], title="A", department="technical")
        assert (
            client.post(
                f"/api/v1/tickets/{ticket['id']}/tags", json={"name": "new one"}, headers=agent.headers
            ).status_code
            == 200
        )
        off = client.patch("/api/v1/admin/settings", json={"agentsCreateTags": False}, headers=admin.headers)
        assert off.status_code == 200 and off.json()["agentsCreateTags"] is False
        refused = client.post(
            f"/api/v1/tickets/{ticket['id']}/tags", json={"name": "brand new"}, headers=agent.headers
        )
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "tag_not_allowed"
        assert (
            client.patch(
                f"/api/v1/tickets/{ticket['id']}", json={"tags": ["other new"]}, headers=agent.headers
            ).status_code
            == 422
        )
        assert client.post("/api/v1/tags", json={"name": "x"}, headers=agent.headers).status_code == 403
        # Existing tags are still theirs to use; admins still create.
        assert (
            client.post(
                f"/api/v1/tickets/{ticket['id']}/tags", json={"name": "New One"}, headers=agent.headers
            ).status_code
            == 200
        )
        assert (
            client.post(
                f"/api/v1/tickets/{ticket['id']}/tags", json={"name": "brand new"}, headers=admin.headers
            ).status_code
            == 200
        )
        names = [
            t["name"]
            for t in client.get(f"/api/v1/tickets/{ticket['id']}", headers=agent.headers).json()["tags"]
        ]
        assert names == ["brand new", "new one"]


class TestOnATicket:
    def test_add_and_remove_one_tag_with_staff_only_history(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        agent = cast["agent"]
        ticket = api_ticket(client, cast["customer"], title="A", department="technical")
        added = client.post(
            f"/api/v1/tickets/{ticket['id']}/tags", json={"name": "Printer"}, headers=agent.headers
        )
        assert [t["name"] for t in added.json()["tags"]] == ["printer"]
        again = client.post(
            f"/api/v1/tickets/{ticket['id']}/tags", json={"name": "printer"}, headers=agent.headers
        )
        assert again.json()["version"] == added.json()["version"]  # no change, no new version
        removed = client.delete(f"/api/v1/tickets/{ticket['id']}/tags/PRINTER", headers=agent.headers)
        assert removed.status_code == 200 and removed.json()["tags"] == []
        with db.unit_of_work(write=False) as session:
            events = session.query(TicketEvent).filter_by(ticket_id=ticket["id"], field="tags").all()
        assert [(e.old_value, e.new_value, e.is_internal) for e in events] == [
            (None, "printer", True),
            ("printer", None, True),
        ]

    def test_customers_and_strangers(self, client: TestClient, cast: dict[str, Persona]) -> None:
        ticket = api_ticket(client, cast["customer"], title="A", department="technical")
        url = f"/api/v1/tickets/{ticket['id']}/tags"
        assert client.post(url, json={"name": "x"}, headers=cast["customer"].headers).status_code == 403
        assert client.post(url, json={"name": "x"}, headers=cast["billing"].headers).status_code == 404
        assert client.get("/api/v1/tags", headers=cast["customer"].headers).status_code == 403


class TestDesk:
    def test_tag_a_ticket_then_filter_and_bulk(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        a = api_ticket(client, cast["customer"], title="Alpha printer", department="technical")
        b = api_ticket(client, cast["customer"], title="Beta printer", department="technical")
        browser = Browser(client, db, cast["agent"])
        page = browser.post(f"/desk/tickets/{a['id']}/tags", {"name": "Urgent fix"})
        assert flash(page) == "success: Tag “urgent fix” added."
        assert 'aria-label="Remove tag urgent fix"' in page
        listed = browser.get("/desk?view=all&tag=urgent+fix")
        assert "Alpha printer" in listed and "Beta printer" not in listed
        browser = Browser(client, db, cast["admin"])  # bulk updates are for admins (tickets:bulk)
        page = browser.post(
            "/desk/bulk",
            {"ticket_ids": [str(a["id"]), str(b["id"])], "add_tags": "batch, urgent fix", "remove_tags": ""},
        )
        assert "Updated 2 of 2 tickets." in flash(page)
        listed = browser.get("/desk?view=all&tag=batch&tag=urgent+fix&tag_mode=all")
        assert "Alpha printer" in listed and "Beta printer" in listed
        browser.post("/desk/bulk", {"ticket_ids": [str(a["id"])], "remove_tags": "urgent fix"})
        listed = browser.get("/desk?view=all&tag=urgent+fix")
        assert "Alpha printer" not in listed and "Beta printer" in listed
        page = browser.post(f"/desk/tickets/{b['id']}/tags/remove", {"name": "urgent fix"})
        assert flash(page) == "success: Tag “urgent fix” removed."

    def test_the_pickers_offer_the_tags_not_chosen(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        a = api_ticket(client, cast["customer"], title="A", department="technical")
        b = api_ticket(client, cast["customer"], title="B", department="technical")
        tagged(client, cast["admin"], a["id"], "alpha", "beta")
        tagged(client, cast["admin"], b["id"], "gamma")
        browser = Browser(client, db, cast["agent"])

        page = browser.get(f"/desk/tickets/{a['id']}")
        assert offered(page, "tag-options") == ["gamma"]
        listed = browser.get("/desk?view=all&tag=beta")
        assert offered(listed, "filter-tag-options") == ["alpha", "gamma"]
        listed = Browser(client, db, cast["admin"]).get("/desk?view=all&tag=beta")  # bulk: admins
        assert offered(listed, "bulk-tag-options") == ["alpha", "beta", "gamma"]

    def test_the_admin_page(self, client: TestClient, db: Database, cast: dict[str, Persona]) -> None:
        a = api_ticket(client, cast["customer"], title="A", department="technical")
        tagged(client, cast["admin"], a["id"], "old", "keep")
        browser = Browser(client, db, cast["admin"])
        page = browser.get("/admin/tags?sort=count")
        assert 'aria-label="1 tickets tagged old"' in page
        ids = {
            t["name"]: t["id"]
            for t in client.get("/api/v1/tags", headers=cast["admin"].headers).json()["data"]
        }
        page = browser.post(f"/admin/tags/{ids['old']}", {"name": "older", "color": "#ff0000"})
        assert flash(page) == "success: Tag “older” saved."
        css = client.get("/desk/tags.css").text
        assert f'.tag[data-tag="{ids["old"]}"]{{border-left:4px solid #ff0000;}}' in css
        page = browser.post(f"/admin/tags/{ids['old']}/merge", {"into": str(ids["keep"])})
        assert flash(page) == "success: Tag “older” merged into “keep”."
        page = browser.post("/admin/tags", {"name": "fresh", "color": "#00ff00"})
        assert flash(page) == "success: Tag “fresh” added."
        assert Browser(client, db, cast["agent"]).get("/admin/tags", status=403)
