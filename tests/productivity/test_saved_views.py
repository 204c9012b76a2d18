"""Saved views (issue 6 part 4): a desk filter kept under a name, personal or shared by an admin,
with counts and tickets always worked out for the person looking."""

from __future__ import annotations

import html
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Persona, assign, make_admin, make_agent, make_customer, make_ticket
from tests.mail_admin import Browser, flash
from ticketry.core.db import Database
from ticketry.search import views as saved_views
from ticketry.search.models import SavedView
from ticketry.tickets.models import Priority


@pytest.fixture
def cast(db: Database) -> dict[str, Persona]:
    return {
        "customer": make_customer(db),
        "tech": make_agent(db, departments=("technical",)),
        "billing": make_agent(db, departments=("billing",)),
        "admin": make_admin(db),
    }


def create(client: TestClient, who: Persona, **body: Any) -> Any:
    return client.post("/api/v1/views", json=body, headers=who.headers)


def views_of(client: TestClient, who: Persona) -> list[dict[str, Any]]:
    response = client.get("/api/v1/views", headers=who.headers)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def tickets_of(client: TestClient, who: Persona, view_id: int) -> list[str]:
    response = client.get(f"/api/v1/views/{view_id}/tickets", headers=who.headers)
    assert response.status_code == 200, response.text
    return [t["title"] for t in response.json()["data"]]


class TestPersonalViews:
    def test_a_view_keeps_the_filter_in_canonical_form_and_lists_its_tickets(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        make_ticket(db, cast["customer"], title="Urgent one", priority=Priority.URGENT)
        make_ticket(db, cast["customer"], title="Calm one", priority=Priority.LOW)
        response = create(
            client, cast["tech"], name="  Urgent   tech ", query="?priority=urgent&view=all&page=4&junk=1"
        )
        assert response.status_code == 201, response.text
        view = response.json()
        assert view["name"] == "Urgent tech"
        assert view["query"] == "view=all&priority=urgent"
        assert view["mine"] and view["canEdit"] and not view["shared"]
        assert tickets_of(client, cast["tech"], view["id"]) == ["Urgent one"]
        [listed] = views_of(client, cast["tech"])
        assert listed["count"] == 1 and listed["countCapped"] is False

    def test_another_agents_personal_view_does_not_exist_for_me(
        self, client: TestClient, cast: dict[str, Persona]
    ) -> None:
        view = create(client, cast["tech"], name="Mine", query="view=all").json()
        for method, path in [
            ("GET", f"/api/v1/views/{view['id']}"),
            ("GET", f"/api/v1/views/{view['id']}/tickets"),
            ("PATCH", f"/api/v1/views/{view['id']}"),
            ("DELETE", f"/api/v1/views/{view['id']}"),
        ]:
            body = {"name": "Stolen"} if method == "PATCH" else None
            response = client.request(method, path, json=body, headers=cast["billing"].headers)
            assert response.status_code == 404, (method, path, response.text)
        assert views_of(client, cast["billing"]) == []
        # Not even an admin reads another person's personal view.
        assert client.get(f"/api/v1/views/{view['id']}", headers=cast["admin"].headers).status_code == 404

    def test_rename_change_filter_and_delete(self, client: TestClient, cast: dict[str, Persona]) -> None:
        view = create(client, cast["tech"], name="Old", query="view=all").json()
        changed = client.patch(
            f"/api/v1/views/{view['id']}",
            json={"name": "New", "query": "view=open&priority=high"},
            headers=cast["tech"].headers,
        )
        assert changed.status_code == 200, changed.text
        assert (changed.json()["name"], changed.json()["query"]) == ("New", "view=open&priority=high")
        gone = client.delete(f"/api/v1/views/{view['id']}", headers=cast["tech"].headers)
        assert gone.status_code == 204
        assert views_of(client, cast["tech"]) == []

    @pytest.mark.parametrize(
        "query", ["status=nonsense", "view=everything", "created_from=yesterday", "sort=title"]
    )
    def test_a_filter_that_does_not_read_is_refused_when_saved(
        self, client: TestClient, cast: dict[str, Persona], query: str
    ) -> None:
        response = create(client, cast["tech"], name="Broken", query=query)
        assert response.status_code == 422, response.text
        assert views_of(client, cast["tech"]) == []

    @pytest.mark.parametrize("name", ["", "   ", "x" * 101])
    def test_a_name_is_required_and_bounded(
        self, client: TestClient, cast: dict[str, Persona], name: str
    ) -> None:
        assert create(client, cast["tech"], name=name, query="").status_code == 422

    def test_there_is_a_limit_per_person(self, client: TestClient, cast: dict[str, Persona]) -> None:
        for number in range(saved_views.MAX_VIEWS_PER_USER):
            assert create(client, cast["tech"], name=f"View {number}", query="").status_code == 201
        refused = create(client, cast["tech"], name="One too many", query="")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "too_many_views"

    def test_a_view_that_stopped_reading_shows_its_problem_not_an_error(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        view = create(client, cast["tech"], name="Sales", query="view=all").json()
        with db.unit_of_work() as session:  # as if saved by an older version with other values
            stored = session.get(SavedView, view["id"])
            assert stored is not None
            stored.query = "view=all&status=archived"
        [listed] = views_of(client, cast["tech"])
        assert listed["count"] is None and "status" in listed["problem"].lower()


class TestSharedViews:
    def test_only_admins_share_and_edit_shared_views(
        self, client: TestClient, cast: dict[str, Persona]
    ) -> None:
        assert create(client, cast["tech"], name="For all", query="", shared=True).status_code == 403
        shared = create(
            client, cast["admin"], name="Team urgent", query="priority=urgent", shared=True
        ).json()
        assert shared["shared"]
        listed = {v["name"]: v for v in views_of(client, cast["tech"])}
        assert listed["Team urgent"]["canEdit"] is False and listed["Team urgent"]["mine"] is False
        for method in ("PATCH", "DELETE"):
            body = {"name": "Mine now"} if method == "PATCH" else None
            response = client.request(
                method, f"/api/v1/views/{shared['id']}", json=body, headers=cast["tech"].headers
            )
            assert response.status_code == 403, response.text
        own = create(client, cast["tech"], name="Mine", query="").json()
        publish = client.patch(
            f"/api/v1/views/{own['id']}", json={"shared": True}, headers=cast["tech"].headers
        )
        assert publish.status_code == 403

    def test_a_shared_view_counts_and_lists_what_each_viewer_can_see(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        make_ticket(
            db, cast["customer"], title="Tech urgent", department="technical", priority=Priority.URGENT
        )
        make_ticket(db, cast["customer"], title="Bill urgent", department="billing", priority=Priority.URGENT)
        shared = create(
            client, cast["admin"], name="Urgent", query="view=all&priority=urgent", shared=True
        ).json()
        assert tickets_of(client, cast["admin"], shared["id"]) == ["Bill urgent", "Tech urgent"]
        assert tickets_of(client, cast["tech"], shared["id"]) == ["Tech urgent"]
        assert tickets_of(client, cast["billing"], shared["id"]) == ["Bill urgent"]
        assert [v["count"] for v in views_of(client, cast["tech"])] == [1]

    def test_shared_views_come_first_then_by_position(
        self, client: TestClient, cast: dict[str, Persona]
    ) -> None:
        create(client, cast["tech"], name="B mine", query="")
        create(client, cast["tech"], name="A mine", query="")
        create(client, cast["admin"], name="Z shared", query="", shared=True)
        assert [v["name"] for v in views_of(client, cast["tech"])] == ["Z shared", "B mine", "A mine"]


class TestTheDesksOlderSpelling:
    """Views saved before the list had one reader (issue 14, B.3) carry the desk's old names,
    `assignee` and `customer`: they still open, count and list the same tickets."""

    def test_a_view_saved_with_the_old_names_still_opens(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        tech, customer = cast["tech"], cast["customer"]
        mine = make_ticket(db, customer, title="Mine from Ann")
        make_ticket(db, customer, title="Nobody's from Ann")
        elsewhere = make_ticket(db, make_customer(db), title="Mine from Bob")
        for ticket in (mine, elsewhere):
            assign(db, cast["admin"], ticket.id, tech)
        stored = f"view=all&assignee=me&customer={customer.id}"
        with db.unit_of_work() as session:  # as the desk stored it before
            view = SavedView(name="Old", query=stored, owner_id=tech.id, is_shared=False, position=1)
            session.add(view)
            session.flush()
            view_id = view.id
        assert tickets_of(client, tech, view_id) == ["Mine from Ann"]
        [listed] = views_of(client, tech)
        assert (listed["count"], listed["problem"]) == (1, None)

        browser = Browser(client, db, tech)
        link = f"/desk?{stored}&saved={view_id}"
        assert f'href="{html.escape(link)}"' in browser.get("/desk?view=queue")
        page = browser.get(link)
        assert '<h1 id="list-title">Old</h1>' in page
        assert "Mine from Ann" in page and "Nobody" not in page and "Mine from Bob" not in page
        assert '<option value="me" selected>Me</option>' in page
        assert "The filter differs from the saved view." not in page
        # Saved again or exported, it is written with today's names.
        today = f"view=all&assigned_to=me&customer_id={customer.id}"
        assert f'name="query" value="{html.escape(today)}"' in page
        exported = browser.client.get("/desk/export.csv", params={"list": stored, "columns": "title"})
        assert exported.status_code == 200
        assert exported.text.splitlines()[1:] == ["Mine from Ann"]

    def test_the_old_names_are_stored_as_todays(self, client: TestClient, cast: dict[str, Persona]) -> None:
        response = create(
            client, cast["tech"], name="Mine", query="assignee=me&customer=7&status=open,closed"
        )
        assert response.status_code == 201, response.text
        assert response.json()["query"] == "status=open&status=closed&assigned_to=me&customer_id=7"


class TestCustomers:
    def test_customers_cannot_use_views(self, client: TestClient, cast: dict[str, Persona]) -> None:
        shared = create(client, cast["admin"], name="Everything", query="view=all", shared=True).json()
        customer = cast["customer"]
        assert client.get("/api/v1/views", headers=customer.headers).status_code == 403
        assert create(client, customer, name="Mine", query="").status_code == 403
        for path in (f"/api/v1/views/{shared['id']}", f"/api/v1/views/{shared['id']}/tickets"):
            assert client.get(path, headers=customer.headers).status_code == 403


class TestDesk:
    def test_save_the_current_filter_and_open_it_from_the_sidebar(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        make_ticket(db, cast["customer"], title="Urgent printer", priority=Priority.URGENT)
        make_ticket(db, cast["customer"], title="Low printer", priority=Priority.LOW)
        browser = Browser(client, db, cast["tech"])
        listed = browser.get("/desk?view=all&priority=urgent")
        assert 'name="query" value="view=all&amp;priority=urgent"' in listed
        page = browser.post("/desk/views", {"name": "Fires", "query": "view=all&priority=urgent"})
        assert flash(page) == "success: View “Fires” saved."
        assert '<h1 id="list-title">Fires</h1>' in page
        assert "Urgent printer" in page and "Low printer" not in page
        with db.unit_of_work(write=False) as session:
            [view] = saved_views.list_views(session, cast["tech"].actor)
        sidebar = browser.get("/desk?view=queue")
        assert f'href="/desk?view=all&amp;priority=urgent&amp;saved={view.id}"' in sidebar
        # The page does not wait for the counts: they come from a request of their own ...
        assert 'hx-get="/desk/views/counts"' in sidebar and 'aria-label="1 tickets"' not in sidebar
        counts = browser.get("/desk/views/counts")
        assert "My views" in counts and 'aria-label="1 tickets"' in counts and "hx-get" not in counts
        # ... or with the page, for a live refresh.
        refreshed = client.get("/desk?view=queue", headers={"X-Live-Refresh": "1"}).text
        assert 'aria-label="1 tickets"' in refreshed and "/desk/views/counts" not in refreshed

    def test_update_a_view_with_the_filter_on_screen(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        browser = Browser(client, db, cast["tech"])
        browser.post("/desk/views", {"name": "Mine", "query": "view=all"})
        with db.unit_of_work(write=False) as session:
            [view] = saved_views.list_views(session, cast["tech"].actor)
        page = browser.get(f"/desk?view=all&priority=high&saved={view.id}")
        assert "Update “Mine”" in page
        browser.post(f"/desk/views/{view.id}/query", {"query": "view=all&priority=high"})
        with db.unit_of_work(write=False) as session:
            assert (
                saved_views.get_view(session, cast["tech"].actor, view.id).query == "view=all&priority=high"
            )

    def test_manage_rename_reorder_share_delete(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        browser = Browser(client, db, cast["admin"])
        browser.post("/desk/views", {"name": "First", "query": ""})
        browser.post("/desk/views", {"name": "Second", "query": "view=open"})
        with db.unit_of_work(write=False) as session:
            first, second = saved_views.list_views(session, cast["admin"].actor)
        page = browser.post(f"/desk/views/{second.id}/move", {"direction": "up"})
        assert page.index("Second") < page.index("First")
        page = browser.post(f"/desk/views/{first.id}/rename", {"name": "Renamed"})
        assert flash(page) == "success: Renamed to “Renamed”."
        page = browser.post(f"/desk/views/{first.id}/share", {"shared": "true"})
        assert flash(page) == "success: “Renamed” is now shared with the team."
        page = browser.post(f"/desk/views/{second.id}/delete")
        assert flash(page) == "success: View “Second” deleted."
        with db.unit_of_work(write=False) as session:
            assert [(v.name, v.is_shared) for v in saved_views.list_views(session, cast["admin"].actor)] == [
                ("Renamed", True)
            ]

    def test_an_agent_cannot_share_from_the_desk(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        browser = Browser(client, db, cast["tech"])
        assert "Share with the whole team" not in browser.get("/desk?view=all")
        page = browser.post("/desk/views", {"name": "Team", "query": ""} | {"shared": "true"}, back="/desk")
        assert flash(page).startswith("error: ") and "manage shared views" in flash(page)
        assert "admin:views" not in flash(page)  # a person is never shown an internal permission
        with db.unit_of_work(write=False) as session:
            assert saved_views.list_views(session, cast["tech"].actor) == []


class TestCountBudget:
    def test_views_past_the_time_budget_say_not_counted(
        self, client: TestClient, db: Database, cast: dict[str, Persona]
    ) -> None:
        make_ticket(db, cast["customer"], title="One")
        create(client, cast["tech"], name="All", query="view=all")
        create(client, cast["tech"], name="Open", query="view=open")
        with db.unit_of_work(write=False) as session:
            views = saved_views.list_views(session, cast["tech"].actor)
            spent = saved_views.count_views(session, cast["tech"].actor, views, budget_ms=0)
            assert [(c.count, c.slow, c.problem) for c in spent] == [
                (None, True, saved_views.NOT_COUNTED)
            ] * 2
            plenty = saved_views.count_views(session, cast["tech"].actor, views)
            assert [(c.count, c.slow) for c in plenty] == [(1, False), (1, False)]
