"""Choosing one's notifications: `GET|PUT /api/v1/users/me/notifications` and the page behind
the header's "Notifications" link."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.factories import make_admin, make_agent, make_customer, web_session
from ticketry.core.db import Database

URL = "/api/v1/users/me/notifications"
CUSTOMER_DEFAULTS = {
    "audience": "customer",
    "ticketReceived": True,
    "ticketResolved": True,
    "ticketClosed": True,
}
AGENT_DEFAULTS = {
    "audience": "agent",
    "newTicket": True,
    "assignedToMe": True,
    "customerReply": True,
    "watchedTicket": True,
}


class TestNotificationSettingsApi:
    def test_everything_is_on_until_turned_off(self, client: TestClient, db: Database) -> None:
        customer, agent, admin = make_customer(db), make_agent(db), make_admin(db)
        assert client.get(URL, headers=customer.headers).json() == CUSTOMER_DEFAULTS
        assert client.get(URL, headers=agent.headers).json() == AGENT_DEFAULTS
        assert client.get(URL, headers=admin.headers).json() == AGENT_DEFAULTS

    def test_a_change_keeps_the_other_options(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        changed = client.put(URL, json={"ticketReceived": False}, headers=customer.headers)
        assert changed.status_code == 200, changed.text
        assert changed.json() == {**CUSTOMER_DEFAULTS, "ticketReceived": False}
        again = client.put(URL, json={"ticket_closed": False}, headers=customer.headers)
        assert again.json() == {**CUSTOMER_DEFAULTS, "ticketReceived": False, "ticketClosed": False}
        assert client.get(URL, headers=customer.headers).json() == again.json()

    def test_an_option_of_the_other_audience_is_refused(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        refused = client.put(URL, json={"newTicket": False}, headers=customer.headers)
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "setting_not_offered"
        assert client.get(URL, headers=customer.headers).json() == CUSTOMER_DEFAULTS

    def test_unknown_options_are_refused(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        assert client.put(URL, json={"staffReply": False}, headers=agent.headers).status_code == 422

    def test_signed_out_is_refused(self, client: TestClient) -> None:
        assert client.get(URL).status_code == 401
        assert client.put(URL, json={}).status_code == 401

    def test_settings_are_per_user(self, client: TestClient, db: Database) -> None:
        first, second = make_agent(db), make_agent(db)
        client.put(URL, json={"watchedTicket": False}, headers=first.headers)
        assert client.get(URL, headers=second.headers).json() == AGENT_DEFAULTS


class TestNotificationsPage:
    def test_the_header_links_to_it_and_it_saves_the_ticked_options(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        secret, csrf = web_session(db, customer)
        client.cookies.set("ticketry_session", secret)
        home = client.get("/")
        assert 'href="/account/notifications"' in home.text
        page = client.get("/account/notifications")
        assert page.status_code == 200
        assert len(re.findall(r'type="checkbox" name="enabled"', page.text)) == 3
        assert "Replies from our team always reach you" in page.text
        saved = client.post(
            "/account/notifications",
            data={"csrf_token": csrf, "enabled": ["ticket_resolved"]},
            follow_redirects=False,
        )
        assert saved.status_code == 303
        assert client.get(URL, headers=customer.headers).json() == {
            **CUSTOMER_DEFAULTS,
            "ticketReceived": False,
            "ticketClosed": False,
        }
        reloaded = client.get("/account/notifications").text
        assert re.search(r'value="ticket_resolved"\s+checked', reloaded)
        assert not re.search(r'value="ticket_received"\s+checked', reloaded)

    def test_agents_see_their_four_options(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        secret, _ = web_session(db, agent)
        client.cookies.set("ticketry_session", secret)
        page = client.get("/account/notifications")
        assert len(re.findall(r'type="checkbox" name="enabled"', page.text)) == 4
        assert "Watched tickets" in page.text

    def test_a_post_without_the_csrf_token_is_refused(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        secret, _ = web_session(db, customer)
        client.cookies.set("ticketry_session", secret)
        refused = client.post("/account/notifications", data={"enabled": []}, follow_redirects=False)
        # Pages answer a refused form with a redirect back and the reason as a flash.
        assert refused.status_code == 303
        assert "CSRF" in refused.cookies.get("ticketry_flash", "")
        assert client.get(URL, headers=customer.headers).json() == CUSTOMER_DEFAULTS

    def test_signed_out_goes_to_the_login(self, client: TestClient) -> None:
        response = client.get("/account/notifications", follow_redirects=False)
        assert response.status_code in (302, 303)
        assert response.headers["location"].startswith("/login")
