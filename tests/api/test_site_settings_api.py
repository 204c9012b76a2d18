"""`GET|PATCH /api/v1/admin/settings`: the runtime ticket prefix and sign-up switch."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.factories import api_ticket, make_admin, make_agent, make_customer

from ticketry.core.db import Database
from ticketry.sitesettings import service as site_settings

URL = "/api/v1/admin/settings"


class TestReadSettings:
    def test_defaults_come_from_the_environment(self, client: TestClient, db: Database) -> None:
        response = client.get(URL, headers=make_admin(db).headers)
        assert response.status_code == 200
        assert response.json() == {
            "ticketPrefix": "TICK",
            "allowSignup": True,
            "defaultTicketPrefix": "TICK",
            "defaultAllowSignup": True,
            "attachmentRetentionDays": 30,
            "defaultAttachmentRetentionDays": 30,
            "mailDenySenders": "",
            "mailAllowSenders": "",
            "mailSpamScore": None,
            "agentsCreateTags": True,
            "updatedAt": None,
        }

    def test_agents_and_customers_are_refused(self, client: TestClient, db: Database) -> None:
        for persona in (make_agent(db), make_customer(db)):
            assert client.get(URL, headers=persona.headers).status_code == 403
            patch = client.patch(URL, json={"ticketPrefix": "NOPE"}, headers=persona.headers)
            assert patch.status_code == 403
        with db.unit_of_work() as session:
            assert site_settings.current(session).ticket_prefix == "TICK"


class TestUpdateSettings:
    def test_patch_changes_only_what_is_sent(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)

        first = client.patch(URL, json={"ticket_prefix": "help"}, headers=admin.headers)
        second = client.patch(URL, json={"allowSignup": False}, headers=admin.headers)

        assert first.status_code == 200, first.text
        assert first.json()["ticketPrefix"] == "HELP"
        assert second.json()["ticketPrefix"] == "HELP"
        assert second.json()["allowSignup"] is False
        assert second.json()["updatedAt"] is not None
        assert client.get(URL, headers=admin.headers).json()["allowSignup"] is False

    def test_new_tickets_take_the_new_prefix(self, client: TestClient, db: Database) -> None:
        admin, customer = make_admin(db), make_customer(db)
        before = api_ticket(client, customer)
        client.patch(URL, json={"ticketPrefix": "SUP2"}, headers=admin.headers)
        after = api_ticket(client, customer)
        assert str(before["number"]).startswith("TICK-")
        assert str(after["number"]).startswith("SUP2-")

    def test_invalid_prefix_is_a_clear_422(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        for bad in ("1ABC", "TI-CK", "ÄBC"):
            response = client.patch(URL, json={"ticketPrefix": bad}, headers=admin.headers)
            assert response.status_code == 422, bad
            assert response.json()["error"]["code"] == "invalid_ticket_prefix"
        too_long = client.patch(URL, json={"ticketPrefix": "ABCDEFGHIJK"}, headers=admin.headers)
        assert too_long.status_code == 422
        unknown = client.patch(URL, json={"prefix": "X"}, headers=admin.headers)
        assert unknown.status_code == 422
        assert client.get(URL, headers=admin.headers).json()["ticketPrefix"] == "TICK"

    def test_sign_up_off_closes_the_portal_sign_up(self, client: TestClient, db: Database) -> None:
        client.patch(URL, json={"allowSignup": False}, headers=make_admin(db).headers)
        response = client.get("/signup", follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/login")
