"""Every GET route of the app, API and web, read by people who must not see a ticket (issue 14
B.6; docs/product.md §1: a customer asking for someone else's ticket, reply or attachment gets 404; an agent
sees the tickets of their departments, assigned to them or watched by them).

The routes are read from the app, so a GET route added later is walked without anything to do
here (`tests/leaks/test_every_api_path.py` keeps its hand list of what a customer reads of their
own ticket). Their path ids are another customer's ticket, its reply, note, attachment, merge,
mail, its customer, organization, and an agent's saved view and canned reply about it; a second
filling puts the reader's own ticket beside the other ids, and each declared query parameter
that names such a thing (`ticket`, `customer_id`, `q`…) is filled too. Routes without an id are
read as well: a list, a search, a count must not carry the ticket either.

Two readers: a customer who is not the ticket's and not in its (shared) organization, and an
agent of another department (not assigned, not watching). No answer, whatever its status (a
refusal's page, a redirect's Location), carries any trace of the ticket: its title, number,
description, messages (earlier versions included), note, attachment's name and content.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient

from tests.factories import (
    Persona,
    api_ticket,
    make_admin,
    make_agent,
    make_customer,
    make_organization,
    make_ticket,
    web_session,
)
from tests.leaks.scene import ok
from tests.mail_admin import log_mail, make_mailbox
from tests.security.asgi import Answer, call
from ticketry.core.db import Database
from ticketry.mail.log.models import Direction, MailStatus
from ticketry.web.router import VENDOR_FILES

TITLE_WORD = "zanzibarkettle"
DESCRIPTION_WORD = "marmosetdescription"
CUSTOMER_WORD = "ocelotmessage"
REPLY_WORD = "quetzalreply"
EARLIER_WORD = "tapirearlier"
NOTE_WORD = "axolotlnote"
# What a search asks for: another word of the title, not itself a trace, so that a page repeating
# the search in its search box carries none.
SEARCH = "samovar"
FILE_WORD = "narwhalinvoice"
CONTENT_WORD = "pangolincontent"

# Routes that cannot show a ticket, and why; each must still be a route.
NOT_WALKED = {
    "/static/vendor/{name}": "third-party files (htmx, Swagger UI) named by the path, no object",
    "/api/docs": "the Swagger UI page: static HTML around /openapi.json",
    "/api/v1/health": "liveness: a fixed answer, read by load balancers without credentials",
}
# Not FastAPI routes, so not in the walk: the OpenAPI document (the API's shape, no data) and the
# static directory (our own CSS, JS and icon).
NOT_FASTAPI = frozenset({"/openapi.json", "/static"})


@dataclass(frozen=True)
class Scene:
    secrets: tuple[str, ...]
    ids: dict[str, str]  # path and query parameter -> the other customer's thing
    own_ticket: dict[str, str]  # reader's role -> a ticket that reader may see
    customer: Persona
    agent: Persona
    admin: Persona


def _upload(client: TestClient, persona: Persona) -> int:
    response = client.post(
        "/api/v1/attachments",
        files={"file": (f"{FILE_WORD}.txt", f"{CONTENT_WORD}\n".encode(), "text/plain")},
        headers=persona.headers,
    )
    return int(ok(response, 201)["data"][0]["id"])


def build_scene(client: TestClient, db: Database) -> Scene:
    """The other customer's ticket in billing, worked by a billing agent; the readers' own
    tickets elsewhere."""
    organization = make_organization(db, shared=True)
    owner = make_customer(db, organization_id=organization)
    make_customer(db, organization_id=organization)  # a colleague: the organization is not empty
    billing = make_agent(db, departments=("billing",))
    admin = make_admin(db)
    ticket = api_ticket(
        client,
        owner,
        title=f"The {TITLE_WORD} {SEARCH} leaks",
        description=f"It {DESCRIPTION_WORD}.",
        department="billing",
    )
    base = f"/api/v1/tickets/{ticket['id']}"
    ok(
        client.post(f"{base}/replies", json={"message": f"Still {CUSTOMER_WORD}."}, headers=owner.headers),
        201,
    )
    reply = ok(
        client.post(
            f"{base}/replies",
            json={"message": f"First {EARLIER_WORD}.", "attachmentIds": [_upload(client, billing)]},
            headers=billing.headers,
        ),
        201,
    )
    ok(
        client.patch(
            f"{base}/replies/{reply['id']}", json={"body": f"Try {REPLY_WORD}."}, headers=billing.headers
        )
    )
    note = ok(
        client.post(
            f"{base}/replies",
            json={"message": f"A {NOTE_WORD}.", "isInternal": True},
            headers=billing.headers,
        ),
        201,
    )
    attachment = ok(client.get(f"{base}/attachments", headers=billing.headers))["data"][0]["id"]
    duplicate = api_ticket(client, owner, title=f"Again the {TITLE_WORD}", department="billing")
    ok(client.post(f"{base}/merge", json={"ticketIds": [duplicate["id"]]}, headers=admin.headers), 201)
    merge = ok(client.get(f"{base}/merges", headers=admin.headers))["data"][0]["id"]
    view = ok(
        client.post(
            "/api/v1/views", json={"name": "Kettles", "query": f"q={SEARCH}"}, headers=billing.headers
        ),
        201,
    )
    canned = ok(
        client.post(
            "/api/v1/canned-replies",
            json={"title": "Kettle", "body": f"About {ticket['number']}: {TITLE_WORD}"},
            headers=billing.headers,
        ),
        201,
    )
    mailbox = make_mailbox(db, admin)
    mail = log_mail(
        db,
        direction=Direction.OUTBOUND,
        status=MailStatus.SENT,
        subject=f"[{ticket['number']}] The {TITLE_WORD} leaks",
        ticket_id=int(str(ticket["id"])),
        mailbox_id=mailbox,
    )
    customer, agent = make_customer(db), make_agent(db, departments=("technical",))
    own = {
        "customer": str(api_ticket(client, customer, title="My own printer")["id"]),
        "agent": str(
            make_ticket(db, make_customer(db), title="A technical printer", department="technical").id
        ),
    }
    ids = {
        "ticket_id": str(ticket["id"]),
        "message_id": str(reply["id"]),
        "attachment_id": str(attachment),
        "merge_id": str(merge),
        "mail_id": str(mail),
        "mailbox_id": str(mailbox),
        "user_id": str(owner.id),
        "organization_id": str(organization),
        "view_id": str(view["id"]),
        "reply_id": str(canned["id"]),
        "name": next(iter(VENDOR_FILES)),
        # query parameters
        "ticket": str(ticket["id"]),
        "customer_id": str(owner.id),
        "saved": str(view["id"]),
        "mailbox": str(mailbox),
        "q": SEARCH,
        "list": f"view=all&q={SEARCH}",
        "assignee": str(billing.id),
        "inline": "true",
        "tab": "all",
        "state": "all",
    }
    secrets = (
        TITLE_WORD,
        str(ticket["number"]),
        DESCRIPTION_WORD,
        CUSTOMER_WORD,
        REPLY_WORD,
        EARLIER_WORD,
        NOTE_WORD,
        FILE_WORD,
        CONTENT_WORD,
    )
    return Scene(secrets, ids | {"note_id": str(note["id"])}, own, customer, agent, admin)


# --- the routes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Read:
    template: str
    url: str

    @property
    def is_api(self) -> bool:
        return self.template.startswith("/api/") and self.template != "/api/docs"


def _fill(template: str, names: Iterator[str] | list[str], values: dict[str, str]) -> str:
    return template.format(**{name: values[name] for name in names})


def reads(client: TestClient, scene: Scene, reader: str) -> list[Read]:
    """Every GET route, as URLs: the other customer's ids; the note for the message; the
    reader's own ticket beside the other ids; each with and without the query parameters it
    declares (and a list query for the routes that read the query string themselves)."""
    found: dict[str, Read] = {}
    others: set[str] = set()
    walked: set[str] = set()
    for route in iter_route_contexts(client.app.routes):  # type: ignore[attr-defined]
        if not isinstance(route.original_route, APIRoute):
            others.add(route.path)
            continue
        if "GET" not in route.methods:
            continue
        template = route.path_format
        walked.add(template)
        if template in NOT_WALKED:
            continue
        names = list(route.param_convertors)
        missing = set(names) - set(scene.ids)
        assert not missing, f"{template}: give the scene a {', '.join(sorted(missing))} of the other customer"
        fillings = [scene.ids, scene.ids | {"message_id": scene.ids["note_id"]}]
        if "ticket_id" in names and len(names) > 1:
            fillings.append(scene.ids | {"ticket_id": scene.own_ticket[reader]})
        declared = [p.alias for p in get_flat_params(route.dependant) if p.alias in scene.ids]
        query = "&".join(f"{name}={scene.ids[name]}" for name in declared if name not in names)
        for values in fillings:
            url = _fill(template, names, values)
            for variant in (url, f"{url}?{query}" if query else url, f"{url}?view=all&q={SEARCH}"):
                found[variant] = Read(template, variant)
    assert others == NOT_FASTAPI, f"routes outside FastAPI: {others - NOT_FASTAPI}"
    stale = set(NOT_WALKED) - walked
    assert not stale, f"NOT_WALKED names routes that are gone: {stale}"
    assert len({r.template for r in found.values()}) > 80  # the walk really walked
    return list(found.values())


def headers_for(read: Read, persona: Persona, cookie: str) -> dict[str, str]:
    return persona.headers if read.is_api else {"cookie": f"ticketry_session={cookie}"}


def traces(answer: Answer, secrets: tuple[str, ...]) -> list[str]:
    seen = (answer.body.decode("utf-8", "replace") + repr(answer.headers)).lower()
    return [secret for secret in secrets if secret.lower() in seen]


@dataclass
class Walked:
    shown: dict[str, list[str]]  # URL -> the traces of the ticket its answer carried
    answered: int  # answers with a 200


def walk(client: TestClient, db: Database, scene: Scene, reader: str, persona: Persona) -> Walked:
    """What each URL showed of the ticket, whatever the answer's status (a refusal's page, a
    redirect's Location carry nothing either)."""
    cookie, _ = web_session(db, persona)
    walked = Walked({}, 0)
    for read in reads(client, scene, reader):
        answer = call(client.app, "GET", read.url, headers=headers_for(read, persona, cookie))
        assert answer.status < 500, (read.url, answer.status, answer.body[:300])
        walked.answered += answer.status == 200
        if found := traces(answer, scene.secrets):
            walked.shown[read.url] = found
    return walked


@pytest.fixture
def scene(client: TestClient, db: Database) -> Scene:
    return build_scene(client, db)


class TestEveryGetRoute:
    @pytest.mark.parametrize("reader", ["customer", "agent"])
    def test_no_route_shows_a_ticket_its_reader_may_not_see(
        self, client: TestClient, db: Database, scene: Scene, reader: str
    ) -> None:
        persona = scene.customer if reader == "customer" else scene.agent
        walked = walk(client, db, scene, reader, persona)
        assert not walked.shown, "\n".join(f"{url}: {found}" for url, found in sorted(walked.shown.items()))
        assert walked.answered > 30  # signed in all along: their reads are answered

    @pytest.mark.parametrize(("reader", "page"), [("customer", "/"), ("agent", "/desk?view=all")])
    def test_the_readers_see_their_own_tickets(
        self, client: TestClient, db: Database, scene: Scene, reader: str, page: str
    ) -> None:
        """Control: the readers are who they should be, and their lists are not empty."""
        persona = scene.customer if reader == "customer" else scene.agent
        cookie, _ = web_session(db, persona)
        title = "My own printer" if reader == "customer" else "A technical printer"
        for url, headers in (
            (page, {"cookie": f"ticketry_session={cookie}"}),
            ("/api/v1/tickets", persona.headers),
        ):
            answer = call(client.app, "GET", url, headers=headers)
            assert answer.status == 200 and title in answer.body.decode(), url

    def test_an_admin_does_see_it_so_the_ids_are_real(
        self, client: TestClient, db: Database, scene: Scene
    ) -> None:
        """Control: the same walk as an admin finds every trace, each where it belongs."""
        shown = walk(client, db, scene, "agent", scene.admin).shown
        ids = scene.ids
        ticket, message, attachment = ids["ticket_id"], ids["message_id"], ids["attachment_id"]
        expected = {
            f"/api/v1/tickets/{ticket}": TITLE_WORD,
            f"/api/v1/tickets/{ticket}/replies/{message}": REPLY_WORD,
            f"/api/v1/tickets/{ticket}/replies/{message}/revisions": EARLIER_WORD,
            f"/api/v1/tickets/{ticket}/replies/{ids['note_id']}": NOTE_WORD,
            f"/api/v1/attachments/{attachment}": FILE_WORD,
            f"/api/v1/attachments/{attachment}/content": CONTENT_WORD,
            f"/desk/tickets/{ticket}": CUSTOMER_WORD,
            f"/desk/tickets/{ticket}/messages/{message}/revisions": EARLIER_WORD,
            f"/api/v1/mail/log/{ids['mail_id']}": TITLE_WORD,
            f"/api/v1/tickets?view=all&q={SEARCH}": TITLE_WORD,
            f"/desk?view=all&q={SEARCH}": TITLE_WORD,
        }
        missing = {url: word for url, word in expected.items() if word not in shown.get(url, [])}
        assert not missing, missing
        assert set(itertools.chain.from_iterable(shown.values())) == set(scene.secrets)
