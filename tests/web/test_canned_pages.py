"""`/desk/canned` and the composer's picker markup (issue 6 part 1): plain forms that POST and
redirect with a flash, the unknown-variable warning, privacy of personal replies, escaping."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.factories import make_admin, make_agent, make_customer, make_ticket
from tests.form_browser import FormBrowser

from ticketry.canned.models import CannedReply
from ticketry.core.db import Database

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
XSS = '<script>alert(1)</script>"><img src=x onerror=alert(1)>'


Browser = FormBrowser


def replies(db: Database) -> list[CannedReply]:
    with db.unit_of_work(write=False) as session:
        return list(session.scalars(select(CannedReply).order_by(CannedReply.id)))


class TestManagementPage:
    def test_agent_creates_edits_and_deletes_a_personal_reply(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        browser = Browser(client, agent)
        page = browser.get("/desk/canned")
        assert "No canned replies yet" in page
        assert 'href="/desk/canned" aria-current="page"' in page  # the desk navigation links here
        assert 'name="visibility"' not in page  # agents are not offered shared replies
        location, landed = browser.post(
            "/desk/canned",
            {"title": "Reset steps", "category": "Access", "body": "Hi {{customer.first_name}}"},
        )
        [saved] = replies(db)
        assert location == f"/desk/canned/{saved.id}"
        assert "Canned reply saved." in landed
        assert (saved.owner_id, saved.category) == (agent.id, "Access")
        listing = browser.get("/desk/canned")
        assert "Reset steps" in listing and "Access (1)" in listing
        browser.post(f"/desk/canned/{saved.id}", {"title": "Reset steps v2", "category": "", "body": "Hello"})
        [changed] = replies(db)
        assert (changed.title, changed.category, changed.body) == ("Reset steps v2", None, "Hello")
        location, landed = browser.post(f"/desk/canned/{saved.id}/delete", {})
        assert location == "/desk/canned"
        assert "Canned reply deleted." in landed
        assert replies(db) == []

    def test_unknown_variables_are_saved_with_a_warning(self, client: TestClient, db: Database) -> None:
        browser = Browser(client, make_agent(db))
        _, landed = browser.post(
            "/desk/canned", {"title": "Leaky", "body": "Key {{settings.secret_key}} {% for x in y %}"}
        )
        assert "unknown variables that will render as nothing: settings.secret_key" in html.unescape(landed)
        assert "data-unknown-variables" in landed
        assert "<code>settings.secret_key</code>" in landed
        assert len(replies(db)) == 1
        assert "Unknown variables" in browser.get("/desk/canned")  # flagged in the list too

    def test_sorting_filtering_and_scope(self, client: TestClient, db: Database) -> None:
        agent, admin = make_agent(db), make_admin(db)
        admin_browser = Browser(client, admin)
        admin_browser.post("/desk/canned", {"title": "Shared zeta", "body": "b", "visibility": "shared"})
        admin_browser.post("/desk/canned", {"title": "Admin private", "body": "b", "visibility": "personal"})
        browser = Browser(client, agent)
        browser.post("/desk/canned", {"title": "Mine alpha", "body": "b", "category": "Billing"})
        page = browser.get("/desk/canned?sort=title")
        assert page.index("Mine alpha") < page.index("Shared zeta")
        assert "Admin private" not in page
        assert "Mine alpha" not in browser.get("/desk/canned?scope=shared")
        assert "Shared zeta" not in browser.get("/desk/canned?category=Billing")
        assert "Shared zeta" not in browser.get("/desk/canned?q=alpha")
        # Shared replies: agents may look, not edit.
        shared = next(r for r in replies(db) if r.title == "Shared zeta")
        view = browser.get(f"/desk/canned/{shared.id}")
        assert "Shared replies are managed by admins." in view
        assert f'action="/desk/canned/{shared.id}"' not in view
        response = client.post(
            f"/desk/canned/{shared.id}",
            data={"title": "x", "body": "y", "csrf_token": browser.csrf},
            follow_redirects=False,
        )
        assert response.status_code == 303  # back with the reason, nothing changed
        assert next(r for r in replies(db) if r.id == shared.id).title == "Shared zeta"

    def test_someone_elses_personal_reply_is_not_found(self, client: TestClient, db: Database) -> None:
        owner, other = make_agent(db), make_agent(db)
        Browser(client, owner).post("/desk/canned", {"title": "Private", "body": "b"})
        [private] = replies(db)
        browser = Browser(client, other)
        assert "Private" not in browser.get(f"/desk/canned/{private.id}", status=404)

    def test_customers_are_sent_home(self, client: TestClient, db: Database) -> None:
        browser = Browser(client, make_customer(db))
        response = client.get("/desk/canned", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/"
        assert "Canned replies" not in browser.get("/")

    def test_titles_and_bodies_are_escaped(self, client: TestClient, db: Database) -> None:
        browser = Browser(client, make_agent(db))
        browser.post("/desk/canned", {"title": XSS[:200], "body": XSS, "category": XSS[:100]})
        for path in ("/desk/canned", f"/desk/canned/{replies(db)[0].id}"):
            page = browser.get(path)
            assert "<script>alert(1)" not in page
            assert "<img src=x" not in page


class TestComposer:
    def test_the_composer_offers_the_picker(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        ticket = make_ticket(db, make_customer(db), department="technical")
        page = Browser(client, agent).get(f"/desk/tickets/{ticket.id}")
        assert f'data-canned data-ticket="{ticket.id}"' in page
        assert 'aria-keyshortcuts="c"' in page
        assert 'src="/static/canned.js"' in page
        assert "<kbd>c</kbd></dt><dd>Insert a canned reply" in page
        # the picker sits inside the composer's form, after the textarea
        form = page[page.index("data-composer") :]
        assert form.index('id="composer-body"') < form.index("data-canned ")

    def test_the_script_is_served(self, client: TestClient) -> None:
        response = client.get("/static/canned.js")
        assert response.status_code == 200
        assert "/api/v1/canned-replies/" in response.text
