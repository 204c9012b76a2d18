"""Caching and transport headers (issue 12, items 6 and 13).

Attack: a browser's disk cache on a shared or public computer, or a caching proxy, keeps what a
signed-in person saw (tickets, files, exports, the bearer token a login answer carries) and hands
it to the next person after the first signed out. CWE-524 (use of a cache containing sensitive
information), CWE-525 (information exposure through browser caching); OWASP ASVS V8.2.1. Every
answer a credential opens is `Cache-Control: no-store`.

Attack: without HSTS, an active attacker on the network answers a browser's first plain-HTTP
request and keeps it on HTTP (SSL stripping), reading the session cookie's page traffic.
CWE-319 (cleartext transmission), CWE-523 (unprotected transport of credentials).
"""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import MakeClient
from tests.factories import PASSWORD, Persona, api_ticket, make_admin, make_agent, make_customer, web_session
from tests.security.asgi import call
from ticketry.core.db import Database

NO_STORE = "no-store"
HSTS = "max-age=31536000; includeSubDomains"


def signed_in(client: TestClient, db: Database, persona: Persona) -> str:
    """The persona's browser session in the client's cookie jar; its CSRF token."""
    cookie, csrf = web_session(db, persona)
    client.cookies.set("ticketry_session", cookie)
    return csrf


def only_no_store(response: object) -> bool:
    return response.headers.get_list("cache-control") == [NO_STORE]  # type: ignore[attr-defined]


class TestCredentialsAreNeverCached:
    def test_the_login_answer_with_a_bearer_token_is_no_store(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        response = client.post("/api/v1/auth/login", json={"email": customer.email, "password": PASSWORD})
        assert response.status_code == 200, response.text
        assert "token" in response.text
        assert only_no_store(response)

    def test_a_new_api_token_is_no_store(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        response = client.post("/api/v1/users/me/tokens", json={"name": "laptop"}, headers=customer.headers)
        assert response.status_code == 201, response.text
        assert only_no_store(response)

    def test_signing_in_through_the_form_is_no_store(self, client: TestClient, db: Database) -> None:
        """The answer that sets the session cookie, and the form that sets the pre-sign-in one."""
        agent = make_agent(db)
        form = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token, form.text
        response = client.post(
            "/login",
            data={"email": agent.email, "password": PASSWORD, "csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert response.status_code == 303 and "ticketry_session=" in response.headers["set-cookie"]
        assert only_no_store(response) and only_no_store(form)

    def test_an_api_error_without_credentials_is_no_store(self, client: TestClient) -> None:
        response = client.get("/api/v1/tickets")
        assert response.status_code == 401
        assert only_no_store(response)


class TestSignedInAnswersAreNeverCached:
    def test_pages_of_a_signed_in_browser_are_no_store(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        ticket = api_ticket(client, customer, title="My secret problem")
        signed_in(client, db, customer)
        for url in ("/", f"/tickets/{ticket['id']}", "/account/password"):
            response = client.get(url)
            assert response.status_code == 200, (url, response.text[:200])
            assert only_no_store(response), (url, response.headers)

    def test_a_form_answer_to_a_signed_in_browser_is_no_store(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        ticket = api_ticket(client, customer)
        csrf = signed_in(client, db, customer)
        response = client.post(
            f"/tickets/{ticket['id']}/reply",
            data={"body": "Any news?", "csrf_token": csrf},
            follow_redirects=False,
        )
        assert response.status_code == 303
        assert only_no_store(response)

    def test_caching_a_route_chose_is_replaced(self, client: TestClient, db: Database) -> None:
        """The desk's tag stylesheet asks for `private, no-cache`; it names the desk's tags."""
        signed_in(client, db, make_agent(db))
        response = client.get("/desk/tags.css")
        assert response.status_code == 200
        assert only_no_store(response)

    def test_a_download_is_no_store_and_still_resumes(self, client: TestClient, db: Database) -> None:
        """No ETag revalidation for browsers any more (they keep no copy to revalidate); the ETag
        stays for `If-Range`, so an interrupted download still resumes."""
        customer = make_customer(db)
        uploaded = client.post(
            "/api/v1/attachments",
            files={"file": ("notes.txt", b"0123456789", "text/plain")},
            headers=customer.headers,
        )
        assert uploaded.status_code == 201, uploaded.text
        url = f"/api/v1/attachments/{uploaded.json()['data'][0]['id']}/content"
        whole = client.get(url, headers=customer.headers)
        assert whole.status_code == 200 and only_no_store(whole)
        etag = whole.headers["etag"]
        rest = client.get(url, headers={**customer.headers, "Range": "bytes=4-", "If-Range": etag})
        assert (rest.status_code, rest.content) == (206, b"456789")
        assert only_no_store(rest)

    def test_exports_are_no_store(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        api_ticket(client, make_customer(db))
        response = client.get("/api/v1/tickets/export.csv", headers=admin.headers)
        assert response.status_code == 200 and only_no_store(response)
        signed_in(client, db, admin)
        page = client.get("/desk/export.csv", params={"list": "view=all"})
        assert page.status_code == 200 and only_no_store(page)

    def test_the_live_event_stream_is_no_store(self, client: TestClient, db: Database) -> None:
        cookie, _ = web_session(db, make_agent(db))
        answer = call(client.app, "GET", "/events", headers={"cookie": f"ticketry_session={cookie}"})
        assert answer.status == 200
        assert (answer.header("content-type") or "").startswith("text/event-stream")
        assert answer.headers["cache-control"] == [NO_STORE]


class TestWhatMayStayCached:
    def test_static_assets_keep_their_caching_even_with_a_session_cookie(
        self, client: TestClient, db: Database
    ) -> None:
        signed_in(client, db, make_agent(db))
        for url in ("/static/app.css", "/static/vendor/htmx.min.js"):
            response = client.get(url)
            assert response.status_code == 200, url
            assert NO_STORE not in response.headers.get("cache-control", ""), url

    def test_a_public_document_fetched_without_credentials_is_left_alone(self, client: TestClient) -> None:
        response = client.get("/openapi.json")
        assert response.status_code == 200
        assert "cache-control" not in response.headers


class TestStrictTransportSecurity:
    def test_no_hsts_while_cookies_are_not_marked_secure(self, client: TestClient) -> None:
        """Plain HTTP (a laptop, a test): HSTS would lock the browser out of the site."""
        assert "strict-transport-security" not in client.get("/login").headers

    def test_hsts_on_every_answer_behind_tls(self, make_client: MakeClient, db: Database) -> None:
        client = make_client(secure_cookies=True)
        customer = make_customer(db)
        for response in (
            client.get("/login"),
            client.get("/static/app.css"),
            client.get("/api/v1/health"),
            client.get("/api/v1/tickets", headers=customer.headers),
            client.get("/api/v1/nothing-here"),
        ):
            assert response.headers.get_list("strict-transport-security") == [HSTS], response.url
