"""Garbage in every field of every form of the browser UI (issue 14 B.5; docs/product.md §7: bad input gets
a clear 4xx, never a 500, never a partial write).

The forms are read from the app's routes: every POST/PUT/PATCH/DELETE route outside `/api/`,
with the form fields FastAPI declares for it (a form model's fields one by one). A route added
later is walked without anything to do here. Each field gets, one at a time, every kind of
garbage below while the other fields hold a valid value, so the garbage reaches the code that
reads the field (a route that refuses the valid values already, by validation, fails the walk:
give it a valid value in `VALID`). The requests carry a real session and CSRF token of someone
allowed to use the form (the customer on the portal, an admin elsewhere, the sign-in forms'
double-submit token on those) and real ids in the path.

Every answer must be below 500; a refusal (a 4xx, or the form sent back with an error flash) must
leave tickets, their versions, messages, revisions, history and jobs as they were.
"""

from __future__ import annotations

import json
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from urllib.parse import quote_plus, unquote

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy import text
from tests.factories import PASSWORD, make_agent, make_customer, make_message, make_ticket, web_session
from tests.security.test_every_route import PUBLIC, build_scene

from ticketry.core.db import Database
from ticketry.http.deps import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE
from ticketry.tickets.models import Ticket, TicketStatus
from ticketry.web.accounts import PRE_CSRF_COOKIE
from ticketry.web.templating import FLASH_COOKIE

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The customer's side of the UI: posted by the customer, on their own ticket and message.
PORTAL = ("/tickets/", "/preview")
# They end the admin's session: walked last.
LAST = frozenset({"/logout", "/account/sign-out-everywhere"})
PRE_CSRF = "garbage-walk-pre-csrf-token"
FORM = "application/x-www-form-urlencoded"

# A valid value for the fields whose type alone does not make one (a pattern, a real id, a
# choice the route reads itself). Keyed by field name; `{name}` is filled from the scene.
VALID: dict[str, str] = {
    "email": "walker@example.test",
    "address": "walker@help.example.com",
    "password": "a long garbage-walk passphrase",
    "new": "a long garbage-walk passphrase",
    "confirm": "a long garbage-walk passphrase",
    "current": PASSWORD,
    "slug": "walk-slug",
    "color": "#336699",
    "ticket_prefix": "WALK",
    "imap_host": "127.0.0.1",
    "imap_port": "9",  # nothing listens there
    "poll_interval_seconds": "60",
    "direction": "up",
    "query": "status=open",
    "back": "/desk",
    "next": "/",
    "assignee": "me",
    "category": "",
    "organization": "",
    "ticket_ids": "{ticket_id}",
    "tickets": "{ticket_id}",
    "other": "{ticket_id}",
    "to_agent": "{agent_id}",
    "user_id": "{agent_id}",
    "into": "{tag_id}",
    CSRF_FIELD: PRE_CSRF,
}
# The same for one form's field: a new user without a password (hashing one takes a quarter of
# a second, and this form is posted some eighty times).
VALID_IN: dict[tuple[str, str], str] = {("/admin/users", "password"): ""}

# (what it is, the field's raw urlencoded value; None leaves the field out)
GARBAGE: list[tuple[str, bytes | None]] = [
    ("unknown value", b"no-such-value-%E2%98%83"),
    ("overlong", b"x" * 300_000),
    ("NUL", b"a%00b"),
    ("invalid UTF-8", b"%FF%FE%C3%28"),
    ("raw invalid UTF-8", b"\xff\xfe\xc3\x28"),
    ("broken percent-encoding", b"%ZZ%E2%82%"),
    ("negative", b"-1"),
    ("huge", b"9" * 40),
    ("fraction", b"1.5"),
    ("not a number", b"NaN"),
    ("empty", b""),
    ("missing", None),
]


@dataclass(frozen=True)
class FormField:
    name: str
    annotation: Any
    required: bool


@dataclass
class Form:
    method: str
    template: str
    url: str
    fields: list[FormField]
    persona: str  # "admin" | "customer" | "anonymous"


@dataclass
class Answer:
    status: int
    flash: dict[str, str] | None

    @property
    def refused(self) -> bool:
        return self.status >= 400 or (self.flash is not None and self.flash.get("kind") == "error")

    @property
    def invalid(self) -> bool:
        """Refused by the form's validation, before the route's code ran."""
        return self.status == 422 or (
            self.refused and (self.flash or {}).get("text", "").startswith("Please check")
        )


@dataclass
class Walk:
    client: TestClient
    db: Database
    admin_cookie: str
    admin_csrf: str
    customer_cookie: str
    customer_csrf: str
    params: dict[str, str]
    portal_params: dict[str, str]
    problems: list[str] = field(default_factory=list)

    def send(self, form: Form, body: bytes, *, content_type: str) -> Answer:
        headers = {"content-type": content_type}
        if form.persona == "anonymous":
            headers["cookie"] = f"{PRE_CSRF_COOKIE}={PRE_CSRF}"
        else:
            cookie, csrf = (
                (self.customer_cookie, self.customer_csrf)
                if form.persona == "customer"
                else (self.admin_cookie, self.admin_csrf)
            )
            headers["cookie"] = f"{SESSION_COOKIE}={cookie}"
            headers[CSRF_HEADER] = csrf
        self.client.cookies.clear()
        response = self.client.request(
            form.method, form.url, content=body, headers=headers, follow_redirects=False
        )
        return Answer(response.status_code, _flash(response.headers.get_list("set-cookie")))


def _flash(cookies: list[str]) -> dict[str, str] | None:
    for cookie in cookies:
        name, _, rest = cookie.partition("=")
        if name == FLASH_COOKIE:
            value = rest.split(";", 1)[0].strip('"')
            if not value:
                return None
            data: dict[str, str] = json.loads(unquote(value))
            return data
    return None


# --- the forms, read from the routes ------------------------------------------------------------


def _body_fields(dependant: Dependant) -> Iterator[FormField]:
    for param in dependant.body_params:
        annotation = param.field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            for name, info in annotation.model_fields.items():
                yield FormField(info.alias or name, info.annotation, info.is_required())
        else:
            yield FormField(param.alias, annotation, param.field_info.is_required())
    for sub in dependant.dependencies:
        yield from _body_fields(sub)


def web_forms(client: TestClient, params: dict[str, str], portal_params: dict[str, str]) -> list[Form]:
    forms: list[Form] = []
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        if not isinstance(route.original_route, APIRoute) or route.path_format.startswith("/api/"):
            continue
        for method in sorted(set(route.methods) & UNSAFE):
            template = route.path_format
            persona = (
                "anonymous"
                if (method, template) in PUBLIC
                else "customer"
                if template.startswith(PORTAL)
                else "admin"
            )
            values = portal_params if persona == "customer" else params
            missing = set(route.param_convertors) - set(values)
            assert not missing, f"{template}: give the walk a real {', '.join(sorted(missing))}"
            url = template.format(**{name: values[name] for name in route.param_convertors})
            fields = list({f.name: f for f in _body_fields(route.dependant)}.values())
            forms.append(Form(method, template, url, fields, persona))
    assert len(forms) > 60  # the walk really walked
    return forms


def ordered(forms: list[Form]) -> list[Form]:
    """Forms with fields first (on the scene as built), then the bare actions (delete, close…),
    then the sign-outs."""
    with_fields = [f for f in forms if f.fields and f.template not in LAST]
    bare = [f for f in forms if not f.fields and f.template not in LAST]
    return with_fields + bare + [f for f in forms if f.template in LAST]


# --- valid values and bodies --------------------------------------------------------------------


def _choices(annotation: Any) -> list[Any]:
    """The types of a union (Optional included), with Annotated unwrapped."""
    if get_origin(annotation) is Annotated:
        return _choices(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        return [choice for arg in get_args(annotation) for choice in _choices(arg)]
    return [annotation]


def valid_value(template: str, form_field: FormField, ids: dict[str, str]) -> str:
    choices = _choices(form_field.annotation)
    if bool in choices:
        return "true"
    if (template, form_field.name) in VALID_IN:
        return VALID_IN[template, form_field.name]
    if form_field.name in VALID:
        return VALID[form_field.name].format(**ids)
    if any(get_origin(c) is Literal and "" in get_args(c) for c in choices):
        return ""  # the form's "leave as it is"
    for choice in choices:
        if get_origin(choice) is list:
            return valid_value(template, FormField(form_field.name, get_args(choice)[0], True), ids)
        if isinstance(choice, type) and issubclass(choice, Enum):
            return str(next(iter(choice)).value)
        if choice in (int, float):
            return "1"
    return "Garbage walk"


def urlencoded(values: dict[str, bytes | None]) -> bytes:
    return b"&".join(
        quote_plus(name).encode() + b"=" + value for name, value in values.items() if value is not None
    )


def multipart(values: dict[str, str]) -> tuple[bytes, str]:
    """Every field as an uploaded file where text is expected (a wrong type)."""
    boundary = "garbagewalkboundary"
    parts = [
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="x.bin"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + b"\x00\xff"
        + value.encode()
        + b"\r\n"
        for name, value in values.items()
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


# --- what was written ---------------------------------------------------------------------------

COUNTS = text(
    "SELECT (SELECT count(*) FROM tickets), (SELECT coalesce(sum(version), 0) FROM tickets),"
    " (SELECT count(*) FROM messages), (SELECT count(*) FROM message_revisions),"
    " (SELECT count(*) FROM ticket_events), (SELECT count(*) FROM jobs)"
)


def written(db: Database) -> tuple[int, ...]:
    with db.unit_of_work(write=False) as session:
        return tuple(session.execute(COUNTS).one())


# --- the walk -----------------------------------------------------------------------------------


@pytest.fixture
def walk(client: TestClient, db: Database) -> Walk:
    scene = build_scene(client, db)
    customer = make_customer(db)
    ticket = make_ticket(db, customer, title="My garbage walk")
    message = make_message(db, customer, ticket.id, body="Mine")
    admin_cookie, admin_csrf = web_session(db, scene.admin)
    customer_cookie, customer_csrf = web_session(db, customer)
    agent = make_agent(db)
    params = {**scene.params, "agent_id": str(agent.id)}
    portal = {**params, "ticket_id": str(ticket.id), "message_id": str(message.id)}
    return Walk(client, db, admin_cookie, admin_csrf, customer_cookie, customer_csrf, params, portal)


def check(walk: Walk, form: Form, what: str, body: bytes, *, content_type: str) -> Answer:
    before = written(walk.db)
    answer = walk.send(form, body, content_type=content_type)
    if answer.status >= 500:
        walk.problems.append(f"{form.method} {form.template} {what}: {answer.status}")
    elif answer.refused and (after := written(walk.db)) != before:
        walk.problems.append(f"{form.method} {form.template} {what}: refused but wrote {before} -> {after}")
    return answer


def garbage_walk(walk: Walk, form: Form) -> None:
    ids = walk.portal_params if form.persona == "customer" else walk.params
    valid = {f.name: valid_value(form.template, f, ids) for f in form.fields}
    encoded = {name: quote_plus(value).encode() for name, value in valid.items()}
    baseline = check(walk, form, "with valid values", urlencoded(dict(encoded)), content_type=FORM)
    if baseline.invalid:
        walk.problems.append(
            f"{form.method} {form.template}: refuses valid values ({baseline.flash}); give VALID a value"
            " for its fields, or the garbage never reaches the route's code"
        )
    for form_field in form.fields:
        for what, raw in GARBAGE:
            if what == "missing" and not form_field.required:
                continue
            body = urlencoded({**encoded, form_field.name: raw})
            check(walk, form, f"{form_field.name}={what}", body, content_type=FORM)
        twice = urlencoded(encoded) + b"&" + urlencoded({form_field.name: b"no-such-value"})
        check(walk, form, f"{form_field.name} twice", twice, content_type=FORM)
    if form.fields:
        check(walk, form, "no field at all", b"", content_type=FORM)
        body, content_type = multipart(valid)
        check(walk, form, "every field a file", body, content_type=content_type)
    else:
        junk = urlencoded({"unknown": b"%FF%00", "x" * 300: b"%ZZ"})
        check(walk, form, "junk", junk, content_type=FORM)


class TestEveryForm:
    def test_garbage_in_any_field_is_refused_cleanly_never_a_500(self, walk: Walk) -> None:
        for form in ordered(web_forms(walk.client, walk.params, walk.portal_params)):
            garbage_walk(walk, form)
        assert not walk.problems, "\n".join(walk.problems)


# --- the desk's "then set status" (the 500 that started the walk) --------------------------------


class TestThenSetStatus:
    def _reply(self, client: TestClient, db: Database, then_status: str) -> tuple[Answer, Ticket, int]:
        scene = build_scene(client, db)
        cookie, csrf = web_session(db, scene.admin)
        ticket_id = int(scene.params["ticket_id"])
        before = written(db)
        client.cookies.clear()
        response = client.post(
            f"/desk/tickets/{ticket_id}/reply",
            data={"body": "Replied with a status", "then_status": then_status},
            headers={"cookie": f"{SESSION_COOKIE}={cookie}", CSRF_HEADER: csrf},
            follow_redirects=False,
        )
        answer = Answer(response.status_code, _flash(response.headers.get_list("set-cookie")))
        with db.unit_of_work(write=False) as session:
            ticket = session.get(Ticket, ticket_id)
            assert ticket is not None
            session.expunge(ticket)
        return answer, ticket, written(db)[2] - before[2]

    def test_an_unknown_status_is_refused_with_the_field_named_and_nothing_written(
        self, client: TestClient, db: Database
    ) -> None:
        answer, ticket, new_messages = self._reply(client, db, "exploded")
        assert answer.status == 303
        assert answer.flash == {"kind": "error", "text": "Please check: then_status."}
        assert new_messages == 0
        assert ticket.status is not TicketStatus.ON_HOLD

    def test_a_known_status_is_set_with_the_reply(self, client: TestClient, db: Database) -> None:
        answer, ticket, new_messages = self._reply(client, db, "on_hold")
        assert answer.flash == {"kind": "success", "text": "Reply sent."}
        assert (ticket.status, new_messages) == (TicketStatus.ON_HOLD, 1)
