"""`GET|PATCH /api/v1/admin/settings`, the incoming-mail part (issue 5): the sender lists and the
spam score threshold, where an explicit null turns the threshold off and absence keeps it."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.factories import make_admin, make_agent

from ticketry.core.db import Database

URL = "/api/v1/admin/settings"


class TestMailSettings:
    def test_they_start_empty(self, client: TestClient, db: Database) -> None:
        body = client.get(URL, headers=make_admin(db).headers).json()
        assert (body["mailDenySenders"], body["mailAllowSenders"], body["mailSpamScore"]) == ("", "", None)

    def test_lists_are_normalised_and_the_score_kept_until_null(
        self, client: TestClient, db: Database
    ) -> None:
        admin = make_admin(db)
        first = client.patch(
            URL,
            json={
                "mailDenySenders": "Spam@Example.com\n\n@bad.example, worse.example",
                "mail_allow_senders": "partner.example",
                "mailSpamScore": 6.5,
            },
            headers=admin.headers,
        )
        kept = client.patch(URL, json={"allowSignup": False}, headers=admin.headers)
        cleared = client.patch(
            URL, json={"mailSpamScore": None, "mailDenySenders": ""}, headers=admin.headers
        )

        assert first.status_code == 200, first.text
        assert first.json()["mailDenySenders"] == "spam@example.com\n@bad.example\nworse.example"
        assert (kept.json()["mailAllowSenders"], kept.json()["mailSpamScore"]) == ("partner.example", 6.5)
        assert (cleared.json()["mailDenySenders"], cleared.json()["mailSpamScore"]) == ("", None)
        assert cleared.json()["mailAllowSenders"] == "partner.example"

    def test_bad_values_are_422_and_change_nothing(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        for body, code in (
            ({"mailDenySenders": "not an address!"}, "invalid_mail_setting"),
            ({"mailSpamScore": 1001}, "validation_error"),
            ({"mailSpamScore": "lots"}, "validation_error"),
        ):
            response = client.patch(URL, json=body, headers=admin.headers)
            assert response.status_code == 422, body
            assert response.json()["error"]["code"] == code, response.text
        current = client.get(URL, headers=admin.headers).json()
        assert (current["mailDenySenders"], current["mailSpamScore"]) == ("", None)

    def test_agents_cannot_change_them(self, client: TestClient, db: Database) -> None:
        response = client.patch(URL, json={"mailAllowSenders": "me.example"}, headers=make_agent(db).headers)
        assert response.status_code == 403
