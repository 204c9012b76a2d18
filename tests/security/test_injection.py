"""Stored XSS, SQL and full-text-operator injection."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from tests.factories import api_ticket, make_agent, make_customer, make_ticket, web_session
from ticketry.core.db import Database

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](vbscript:msgbox(1))",
    "<iframe src=https://evil.example></iframe>",
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<details open ontoggle=alert(1)>",
    '<a href="https://example.com" onclick="alert(1)">x</a>',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    '"><script>alert(1)</script>',
    "![x](x onerror=alert(1))",
    '<form action="https://evil.example"><input name=password></form>',
    '[ok](https://ok.example "x\\" onmouseover=\\"alert(1)")',
    "[ref][1]\n\n[1]: javascript:alert(1)",
    "<javascript:alert(1)>",
    "[x](java\tscript:alert(1))",
]

ALLOWED_SCHEMES = ("http:", "https:", "mailto:")


def _foreign_scheme(url: str) -> bool:
    """A URL with a scheme other than the allowed ones (relative URLs have none)."""
    return ":" in url.split("/", maxsplit=1)[0] and not url.startswith(ALLOWED_SCHEMES)


class _ActiveContent(HTMLParser):
    """Collects what a browser would run in a fragment: script-ish elements, event handlers,
    inline styles and links or sources outside http(s)/mailto. Escaped text is just text."""

    ACTIVE_TAGS = frozenset({"script", "iframe", "svg", "math", "style", "form", "input", "object", "embed"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.ACTIVE_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            url = "".join((value or "").split()).lower()
            if name.startswith("on") or name == "style":
                self.found.append(f"{tag}[{name}]")
            elif name in ("href", "src", "action", "formaction") and _foreign_scheme(url):
                self.found.append(f"{tag}[{name}={value}]")


def _dangerous(html: str) -> list[str]:
    parser = _ActiveContent()
    parser.feed(html)
    parser.close()
    return parser.found


class TestStoredXss:
    @pytest.mark.parametrize("payload", XSS_PAYLOADS)
    def test_script_in_a_ticket_description_is_stored_sanitized(
        self, client: TestClient, db: Database, payload: str
    ) -> None:
        customer = make_customer(db)
        ticket = api_ticket(client, customer, description=f"Hello {payload} world")
        assert _dangerous(str(ticket["descriptionHtml"])) == []
        # The plain text is kept as sent: it is data, escaped wherever it is rendered.
        assert payload in str(ticket["description"])

    @pytest.mark.parametrize("payload", XSS_PAYLOADS)
    def test_script_in_a_reply_body_is_stored_sanitized(
        self, client: TestClient, db: Database, payload: str
    ) -> None:
        customer = make_customer(db)
        agent = make_agent(db, departments=("technical",))
        ticket = make_ticket(db, customer)
        for author, internal in ((customer, False), (agent, False), (agent, True)):
            response = client.post(
                f"/api/v1/tickets/{ticket.id}/replies",
                json={"message": f"See {payload}", "isInternal": internal},
                headers=author.headers,
            )
            assert response.status_code == 201, response.text
            assert _dangerous(response.json()["bodyHtml"]) == []
        listed = client.get(f"/api/v1/tickets/{ticket.id}/replies", headers=agent.headers).json()["data"]
        assert all(_dangerous(m["bodyHtml"]) == [] for m in listed)

    def test_script_in_an_edited_description_is_sanitized_again(
        self, client: TestClient, db: Database
    ) -> None:
        customer = make_customer(db)
        ticket = api_ticket(client, customer)
        response = client.patch(
            f"/api/v1/tickets/{ticket['id']}",
            json={"description": "<img src=x onerror=alert(document.cookie)>"},
            headers=customer.headers,
        )
        assert response.status_code == 200, response.text
        assert _dangerous(response.json()["descriptionHtml"]) == []

    def test_safe_markdown_survives_sanitizing(self, client: TestClient, db: Database) -> None:
        """Control: the sanitizer keeps what people legitimately write."""
        customer = make_customer(db)
        ticket = api_ticket(client, customer, description="**bold** and [docs](https://example.com/a)")
        html = str(ticket["descriptionHtml"])
        assert "<strong>bold</strong>" in html
        assert 'href="https://example.com/a"' in html
        assert "noopener" in html

    def test_script_in_a_title_is_escaped_on_the_portal_page(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        payload = "<script>alert('title')</script><img src=x onerror=alert(2)>"
        ticket = api_ticket(client, customer, title=f"Help {payload}", description=payload)
        cookie, _ = web_session(db, customer)
        client.cookies.set("ticketry_session", cookie)

        page = client.get(f"/tickets/{ticket['id']}")

        assert page.status_code == 200
        assert "&lt;script&gt;" in page.text  # the title is there, as text
        assert "<script>alert(" not in page.text
        assert "<img src=x onerror" not in page.text

    def test_api_responses_cannot_be_rendered_as_a_page(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        ticket = api_ticket(client, customer, description="<script>alert(1)</script>")
        response = client.get(f"/api/v1/tickets/{ticket['id']}", headers=customer.headers)
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "default-src 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"


SEARCH_PAYLOADS = [
    "' OR 1=1 --",
    "'; DROP TABLE tickets; --",
    '" OR ""="',
    "1) OR (1=1",
    "%",
    "_",
    "\\",
    "*",
    '"',
    '"unterminated',
    "NEAR(printer fire)",
    "printer AND OR NOT",
    "printer OR fire",
    "-printer",
    "^printer",
    "title:printer",
    "{title description}: fire",
    "printer*",
    "a:*",
    "!!",
    "&|!<->",
    "printer <-> fire",
    "()",
    "é" * 10,
    "🔥 printer",
    "\x00",
    "printer\x00fire",
    "x" * 200,
    "TICK-2026-0001",
    "TICK-9999-99999999999999999999",
]


class TestSearchInjection:
    @pytest.mark.parametrize("q", SEARCH_PAYLOADS)
    def test_hostile_query_never_errors_and_never_widens_visibility(
        self, client: TestClient, db: Database, q: str
    ) -> None:
        customer = make_customer(db)
        stranger = make_customer(db)
        make_ticket(db, stranger, title="Printer on fire", description="Printer fire everywhere")
        own = make_ticket(db, customer, title="Printer on fire", description="Mine")

        response = client.get("/api/v1/tickets", params={"q": q}, headers=customer.headers)

        assert response.status_code in (200, 422), response.text
        if response.status_code == 200:
            assert {t["id"] for t in response.json()["data"]} <= {own.id}

    @pytest.mark.parametrize("q", ["' OR 1=1 --", "printer OR fire", "*", "NEAR(printer fire)"])
    def test_hostile_query_from_an_agent_never_errors(self, client: TestClient, db: Database, q: str) -> None:
        agent = make_agent(db, departments=("technical",))
        make_ticket(db, make_customer(db), title="Printer on fire")
        response = client.get("/api/v1/tickets", params={"q": q}, headers=agent.headers)
        assert response.status_code == 200, response.text

    @pytest.mark.parametrize(
        "params",
        [
            {"sort": "id; DROP TABLE tickets"},
            {"order": "asc, (SELECT 1)"},
            {"status": "open' OR '1'='1"},
            {"priority": "high' OR '1'='1"},
            {"department": "technical' OR '1'='1"},
            {"created_from": "2026-01-01' OR '1'='1"},
            {"assigned_to": "1 OR 1=1"},
        ],
    )
    def test_sql_in_a_filter_is_refused(
        self, client: TestClient, db: Database, params: dict[str, str]
    ) -> None:
        agent = make_agent(db, departments=("technical",))
        response = client.get("/api/v1/tickets", params=params, headers=agent.headers)
        assert 400 <= response.status_code < 500, response.text

    def test_sql_in_a_free_text_filter_matches_nothing(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db, departments=("technical",))
        make_ticket(db, make_customer(db))
        response = client.get("/api/v1/tickets", params={"tag": "x' OR '1'='1"}, headers=agent.headers)
        assert response.status_code == 200
        assert response.json()["data"] == []

    def test_sql_in_a_title_is_stored_as_text(self, client: TestClient, db: Database) -> None:
        customer = make_customer(db)
        title = "x'); DELETE FROM tickets; --"
        ticket = api_ticket(client, customer, title=title)
        assert ticket["title"] == title
        assert (
            client.get("/api/v1/tickets/my-tickets", headers=customer.headers).json()["pagination"]["total"]
            == 1
        )
