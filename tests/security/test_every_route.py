"""The route walk (issue 12): every route of the app, API and web, every method, held to the
checks that would have caught whole classes of the review's findings. A route added later is
walked too: one without authentication, without `no-store` or with another error shape fails here.

- Missing authentication (CWE-306) / broken access control (OWASP A01): without credentials,
  every route outside a small allow-list answers 401 with the API error envelope (API) or sends
  the browser to the login page (web); the allow-list matches reality both ways.
- Sensitive information in a browser's or a proxy's cache (CWE-524, CWE-525): every answer to a
  request that carries credentials is `Cache-Control: no-store`; static assets alone stay
  cacheable.
- One error envelope (docs/product.md §4): every API 4xx, with or without credentials, is
  `{"error": {"code", "message", "details"}}`.
- NUL and control characters (CWE-158): every route refuses a `%00` in its query string with a
  422 before it runs (one dependency of the whole app, `http.control_characters`).

Path parameters are filled with real ids from a scene made through the API, so the checks run
the routes' real code, not a 404 for a missing row.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import Persona, api_ticket, make_admin, make_agent, make_customer, web_session
from tests.mail_admin import log_mail, make_mailbox
from tests.security.asgi import Answer, call
from ticketry.auth.models import WebSession
from ticketry.core.db import Database
from ticketry.jobs.models import Job
from ticketry.mailparse.imap import ImapSecurity
from ticketry.web.router import VENDOR_FILES

# Everything anyone may call without signing in: (method, path template).
PUBLIC = frozenset(
    {
        ("POST", "/api/v1/auth/login"),
        ("POST", "/api/v1/auth/password-reset"),
        ("POST", "/api/v1/auth/password-reset/confirm"),
        ("POST", "/api/v1/auth/verify-email"),
        ("GET", "/api/v1/health"),
        ("GET", "/api/docs"),
        ("GET", "/login"),
        ("POST", "/login"),
        ("GET", "/signup"),
        ("POST", "/signup"),
        ("GET", "/signup/sent"),
        ("GET", "/signup/finish"),
        ("POST", "/signup/finish"),
        ("GET", "/password/forgot"),
        ("POST", "/password/forgot"),
        ("GET", "/password/reset"),
        ("POST", "/password/reset"),
        ("GET", "/verify-email"),
        ("GET", "/static/vendor/{name}"),
    }
)
# Static assets: cacheable even when the browser sends its session cookie along.
STATIC = frozenset({("GET", "/static/vendor/{name}")})
# Routes that are not FastAPI routes (no dependencies, no parameters): the OpenAPI document and
# the static files. Anything else of the kind would bypass the app-wide checks.
NOT_FASTAPI = frozenset({"/openapi.json", "/static"})
# Run last in the signed-in pass: they sign the admin's token out.
LAST = frozenset({("POST", "/api/v1/auth/logout"), ("POST", "/api/v1/auth/sign-out-everywhere")})
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Endpoint:
    method: str
    template: str
    url: str

    @property
    def is_api(self) -> bool:
        return self.template.startswith("/api/") and self.template != "/api/docs"

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.template

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


@dataclass(frozen=True)
class Scene:
    admin: Persona
    cookie: str
    params: dict[str, str]


def _id(response: Any) -> str:
    assert response.status_code in (200, 201), response.text
    body = response.json()
    return str(body["data"][0]["id"] if "data" in body else body["id"])


def build_scene(client: TestClient, db: Database) -> Scene:
    """A ticket with everything that hangs off one, and one of every other thing a path names."""
    admin, agent, customer = make_admin(db), make_agent(db), make_customer(db)
    auth = admin.headers
    ticket = str(api_ticket(client, customer, title="Walk me")["id"])
    duplicate = str(api_ticket(client, customer, title="Walk me twice")["id"])
    related = str(api_ticket(client, customer, title="Walk beside me")["id"])
    upload = client.post(
        "/api/v1/attachments", files={"file": ("a.txt", b"hello", "text/plain")}, headers=auth
    )
    attachment = _id(upload)
    message = _id(
        client.post(
            f"/api/v1/tickets/{ticket}/replies",
            json={"message": "Here you go", "attachmentIds": [int(attachment)]},
            headers=auth,
        )
    )
    tag = _id(client.post("/api/v1/tags", json={"name": "walk"}, headers=auth))
    assert client.post(f"/api/v1/tickets/{ticket}/tags", json={"name": "walk"}, headers=auth).is_success
    link = client.post(
        f"/api/v1/tickets/{ticket}/links", json={"ticketId": int(related), "kind": "related"}, headers=auth
    )
    assert link.is_success, link.text
    links = client.get(f"/api/v1/tickets/{ticket}/links", headers=auth).json()["data"]
    merged = client.post(
        f"/api/v1/tickets/{ticket}/merge", json={"ticketIds": [int(duplicate)]}, headers=auth
    )
    assert merged.is_success, merged.text
    merges = client.get(f"/api/v1/tickets/{ticket}/merges", headers=auth).json()["data"]
    watched = client.post(f"/api/v1/tickets/{ticket}/watchers", json={"userId": agent.id}, headers=auth)
    assert watched.is_success, watched.text
    mailbox = make_mailbox(
        db, admin, imap_host="127.0.0.1", imap_port=9, imap_security=ImapSecurity.NONE
    )  # nothing listens on port 9: a connection test fails at once
    with db.unit_of_work(write=False) as session:
        job = session.scalars(select(Job.id).order_by(Job.id)).first()
    assert job is not None
    cookie, _ = web_session(db, admin)
    web_session(db, admin)  # a second browser: the one `session_id` names, so signing it out spares ours
    with db.unit_of_work(write=False) as session:
        browser = session.scalars(
            select(WebSession.id).where(WebSession.user_id == admin.id).order_by(WebSession.id.desc())
        ).first()
    params = {
        "ticket_id": ticket,
        "message_id": message,
        "attachment_id": attachment,
        "tag_id": tag,
        "name": "walk",
        "link_id": str(links[0]["id"]),
        "merge_id": str(merges[0]["id"]),
        "user_id": str(customer.id),
        "view_id": _id(
            client.post("/api/v1/views", json={"name": "Walk", "query": "status=open"}, headers=auth)
        ),
        "reply_id": _id(
            client.post("/api/v1/canned-replies", json={"title": "Walk", "body": "Hello"}, headers=auth)
        ),
        "organization_id": _id(client.post("/api/v1/organizations", json={"name": "Walkers"}, headers=auth)),
        "department_id": _id(
            client.post("/api/v1/departments", json={"slug": "walk", "name": "Walk"}, headers=auth)
        ),
        "category_id": _id(client.post("/api/v1/categories", json={"name": "Walk"}, headers=auth)),
        "token_id": _id(client.post("/api/v1/users/me/tokens", json={"name": "walk"}, headers=auth)),
        "mailbox_id": str(mailbox),
        "mail_id": str(log_mail(db, mailbox_id=mailbox)),
        "job_id": str(job),
        "session_id": str(browser),
    }
    return Scene(admin=admin, cookie=cookie, params=params)


def endpoints(client: TestClient, params: dict[str, str]) -> list[Endpoint]:
    """Every (method, route) of the app, its path filled with the scene's ids."""
    found: list[Endpoint] = []
    others: set[str] = set()
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        if not isinstance(route.original_route, APIRoute):
            others.add(route.path)
            continue
        values = dict(params)
        if route.path_format.startswith("/static/vendor/"):
            values["name"] = next(iter(VENDOR_FILES))
        missing = set(route.param_convertors) - set(values)
        assert not missing, f"{route.path_format}: give the scene a real {', '.join(missing)}"
        url = route.path_format.format(**{name: values[name] for name in route.param_convertors})
        found.extend(Endpoint(method, route.path_format, url) for method in sorted(route.methods))
    assert others == NOT_FASTAPI, f"routes outside FastAPI skip every app-wide check: {others - NOT_FASTAPI}"
    assert len(found) > 200  # the walk really walked
    return found


def envelope_problem(answer: Answer) -> str | None:
    """Why an API error answer is not the envelope, or None."""
    try:
        error = answer.json()["error"]
    except (ValueError, KeyError, TypeError):
        return f"not the error envelope: {answer.body[:120]!r}"
    if not (
        isinstance(error.get("code"), str)
        and isinstance(error.get("message"), str)
        and isinstance(error.get("details"), dict)
    ):
        return f"envelope without code/message/details: {error!r}"
    return None


def is_login_redirect(answer: Answer) -> bool:
    return answer.status in (302, 303, 307) and (answer.header("location") or "").startswith("/login")


def ordered(found: list[Endpoint]) -> Iterator[Endpoint]:
    """Reads first, then writes, then the sign-out."""
    yield from (e for e in found if e.method not in UNSAFE)
    yield from (e for e in found if e.method in UNSAFE and e.key not in LAST)
    yield from (e for e in found if e.key in LAST)


@pytest.fixture
def walk(client: TestClient, db: Database) -> tuple[Scene, list[Endpoint]]:
    scene = build_scene(client, db)
    return scene, endpoints(client, scene.params)


class TestEveryRoute:
    def test_without_credentials_only_the_public_routes_answer(
        self, client: TestClient, walk: tuple[Scene, list[Endpoint]]
    ) -> None:
        _, found = walk
        problems: list[str] = []
        for endpoint in found:
            answer = call(client.app, endpoint.method, endpoint.url)
            refused = (
                answer.status == 401 if endpoint.is_api else answer.status == 401 or is_login_redirect(answer)
            )
            if endpoint.key in PUBLIC and refused:
                problems.append(f"{endpoint}: listed as public but refused ({answer.status})")
            if endpoint.key not in PUBLIC and not refused:
                problems.append(f"{endpoint}: answered {answer.status} without credentials")
            if endpoint.is_api and answer.status >= 400 and (problem := envelope_problem(answer)):
                problems.append(f"{endpoint}: {problem}")
            if answer.status >= 500:
                problems.append(f"{endpoint}: {answer.status} {answer.body[:200]!r}")
        walked = {endpoint.key for endpoint in found}
        problems += [f"{method} {path}: public but no longer a route" for method, path in PUBLIC - walked]
        assert not problems, "\n".join(problems)

    def test_every_answer_to_a_signed_in_request_is_no_store(
        self, client: TestClient, walk: tuple[Scene, list[Endpoint]]
    ) -> None:
        """The admin's token on the API, the admin's session cookie on pages (unsafe requests
        without the CSRF token: refused before they act, but still answered to a signed-in
        browser). Every answer, whatever its status; API errors in the envelope; never a 5xx."""
        scene, found = walk
        problems: list[str] = []
        for endpoint in ordered(found):
            if endpoint.is_api:
                headers = {**scene.admin.headers, "content-type": "application/json"}
                body = b"{}" if endpoint.method in UNSAFE else b""
            else:
                headers, body = {"cookie": f"ticketry_session={scene.cookie}"}, b""
            answer = call(client.app, endpoint.method, endpoint.url, headers=headers, body=body)
            cache = answer.headers.get("cache-control", [])
            if endpoint.key in STATIC:
                if "no-store" in ",".join(cache):
                    problems.append(f"{endpoint}: a static asset lost its caching: {cache}")
            elif cache != ["no-store"]:
                problems.append(f"{endpoint}: {answer.status} with Cache-Control {cache}")
            if endpoint.is_api and answer.status >= 400 and (problem := envelope_problem(answer)):
                problems.append(f"{endpoint}: {problem}")
            if answer.status >= 500 and answer.status != 501:
                problems.append(f"{endpoint}: {answer.status} {answer.body[:200]!r}")
        assert not problems, "\n".join(problems)

    def test_every_route_refuses_a_nul_in_its_query_string(
        self, client: TestClient, walk: tuple[Scene, list[Endpoint]]
    ) -> None:
        """Before authentication and before the route runs: nothing is read, nothing written."""
        _, found = walk
        problems: list[str] = []
        for endpoint in found:
            answer = call(client.app, endpoint.method, f"{endpoint.url}?walk=%00")
            if endpoint.is_api:
                ok = answer.status == 422 and envelope_problem(answer) is None
                ok = ok and answer.json()["error"]["details"]["errors"][0]["type"] == "control_character"
            elif endpoint.method in ("GET", "HEAD"):
                ok = answer.status == 422
            else:  # a form comes back to where it was, the reason in the flash
                flash = answer.header("set-cookie") or ""
                ok = answer.status == 303 and "control%20characters" in flash
            if not ok:
                problems.append(f"{endpoint}: {answer.status} {answer.body[:120]!r}")
        assert not problems, "\n".join(problems)
