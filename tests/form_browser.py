"""A browser for the web tests: the test client signed in through the real login form, posting
forms with the session's CSRF token and following the redirect like a person would."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from tests.factories import PASSWORD, Persona

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
FORM_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class FormBrowser:
    """`unescape=True` reads pages with HTML entities decoded (for plain-text assertions)."""

    def __init__(self, client: TestClient, persona: Persona, *, unescape: bool = False) -> None:
        self.client = client
        self.unescape = unescape
        client.cookies.clear()
        login = client.get("/login")
        token = FORM_TOKEN.search(login.text)
        assert token, login.text
        signed_in = client.post(
            "/login",
            data={"email": persona.email, "password": PASSWORD, "csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert signed_in.status_code == 303, signed_in.text
        meta = CSRF_META.search(client.get("/account/password").text)
        assert meta
        self.csrf = meta.group(1)

    def _text(self, text: str) -> str:
        return html.unescape(text) if self.unescape else text

    def get(self, path: str, status: int = 200) -> str:
        response = self.client.get(path, follow_redirects=False)
        assert response.status_code == status, (path, response.status_code, response.text[:500])
        return self._text(response.text)

    def post(self, path: str, data: dict[str, object], *, back: str = "/") -> tuple[str, str]:
        """Submit a form from the page `back`; where the redirect goes, and the page there."""
        response = self.client.post(
            path,
            data={**data, "csrf_token": self.csrf},
            headers={"referer": f"http://testserver{back}"},
            follow_redirects=False,
        )
        assert response.status_code == 303, (path, response.status_code, response.text[:500])
        location = response.headers["location"]
        landed = self.client.get(location)
        assert landed.status_code == 200, landed.text[:500]
        return location, self._text(landed.text)
