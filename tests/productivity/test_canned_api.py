"""`/api/v1/canned-replies`: personal and shared replies, who may do what, the sandboxed
variables, usage counting, sorting and search (docs/product.md §3, issue 6 part 1)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.factories import Persona, api_ticket, make_admin, make_agent, make_customer, make_user
from ticketry.canned import service as canned_service
from ticketry.canned.models import CannedReply
from ticketry.core.db import Database
from ticketry.users.models import Role

BASE = "/api/v1/canned-replies"


def create(client: TestClient, persona: Persona, status: int = 201, **fields: Any) -> Any:
    body = {"title": "Thanks", "body": "Thank you, {{customer.first_name}}!", **fields}
    response = client.post(BASE, json=body, headers=persona.headers)
    assert response.status_code == status, response.text
    return response.json()


def listed(client: TestClient, persona: Persona, query: str = "") -> list[dict[str, Any]]:
    response = client.get(f"{BASE}{query}", headers=persona.headers)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


def titles(client: TestClient, persona: Persona, query: str = "") -> list[str]:
    return [item["title"] for item in listed(client, persona, query)]


def usage(db: Database, reply_id: int) -> int:
    with db.unit_of_work(write=False) as session:
        reply = session.get(CannedReply, reply_id)
        assert reply is not None
        return reply.usage_count


class TestCreateAndRead:
    def test_agent_creates_a_personal_reply(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        reply = create(client, agent, title="Greeting", category=" Openers ")
        assert reply["shared"] is False
        assert reply["category"] == "Openers"
        assert reply["usageCount"] == 0
        assert reply["lastUsedAt"] is None
        assert reply["canEdit"] is True
        assert reply["unknownVariables"] == []
        fetched = client.get(f"{BASE}/{reply['id']}", headers=agent.headers).json()
        assert fetched["title"] == "Greeting"

    def test_snake_case_input_is_accepted(self, client: TestClient, db: Database) -> None:
        admin = make_admin(db)
        response = client.post(
            BASE, json={"title": "X", "body": "Y", "shared": True, "category": None}, headers=admin.headers
        )
        assert response.status_code == 201, response.text
        assert response.json()["shared"] is True

    def test_unknown_keys_and_empty_titles_are_refused(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        assert client.post(BASE, json={"title": "", "body": "x"}, headers=agent.headers).status_code == 422
        response = client.post(BASE, json={"title": "t", "body": "x", "ownerId": 1}, headers=agent.headers)
        assert response.status_code == 422

    def test_only_admins_create_shared_replies(self, client: TestClient, db: Database) -> None:
        agent, admin = make_agent(db), make_admin(db)
        refused = client.post(BASE, json={"title": "S", "body": "b", "shared": True}, headers=agent.headers)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "forbidden"
        assert titles(client, agent) == []
        shared = create(client, admin, title="Shared one", shared=True)
        assert shared["shared"] is True
        seen = listed(client, agent)
        assert [r["title"] for r in seen] == ["Shared one"]
        assert seen[0]["canEdit"] is False


class TestPrivacy:
    def test_personal_replies_are_invisible_to_everyone_else(self, client: TestClient, db: Database) -> None:
        owner, colleague, admin = make_agent(db), make_agent(db), make_admin(db)
        mine = create(client, owner, title="Only mine")
        ticket = api_ticket(client, make_customer(db), department="technical")
        for other in (colleague, admin):
            assert titles(client, other) == []
            for method, path, body in (
                ("GET", f"{BASE}/{mine['id']}", None),
                ("PATCH", f"{BASE}/{mine['id']}", {"title": "Stolen"}),
                ("DELETE", f"{BASE}/{mine['id']}", None),
                ("POST", f"{BASE}/{mine['id']}/render", {"ticketId": ticket["id"]}),
                ("POST", f"{BASE}/{mine['id']}/preview", {"ticketId": ticket["id"]}),
            ):
                response = client.request(method, path, json=body, headers=other.headers)
                assert response.status_code == 404, (other, method, path, response.text)
                assert response.json()["error"]["code"] == "canned_reply_not_found"
        # A missing id answers exactly alike: nothing tells the two apart.
        missing = client.get(f"{BASE}/999999", headers=colleague.headers)
        assert missing.status_code == 404
        assert missing.json()["error"]["message"] == "Canned reply 999999 not found."
        assert titles(client, owner) == ["Only mine"]
        assert usage(db, mine["id"]) == 0

    def test_categories_count_only_what_the_agent_sees(self, client: TestClient, db: Database) -> None:
        agent, other, admin = make_agent(db), make_agent(db), make_admin(db)
        create(client, agent, title="a", category="Billing")
        create(client, agent, title="b", category="Billing")
        create(client, agent, title="c", category="access")
        create(client, agent, title="d")
        create(client, other, title="e", category="Billing")
        create(client, other, title="f", category="Secret category")
        create(client, admin, title="g", category="Billing", shared=True)
        response = client.get(f"{BASE}/categories", headers=agent.headers)
        assert response.status_code == 200
        assert response.json()["data"] == [{"name": "access", "count": 1}, {"name": "Billing", "count": 3}]


class TestCustomers:
    def test_customers_cannot_list_read_create_or_use(self, client: TestClient, db: Database) -> None:
        customer, admin = make_customer(db), make_admin(db)
        shared = create(client, admin, title="Shared", shared=True)
        ticket = api_ticket(client, customer)
        for method, path, body in (
            ("GET", BASE, None),
            ("GET", f"{BASE}/categories", None),
            ("GET", f"{BASE}/variables", None),
            ("GET", f"{BASE}/{shared['id']}", None),
            ("POST", BASE, {"title": "t", "body": "b"}),
            ("PATCH", f"{BASE}/{shared['id']}", {"title": "t"}),
            ("DELETE", f"{BASE}/{shared['id']}", None),
            ("POST", f"{BASE}/{shared['id']}/render", {"ticketId": ticket["id"]}),
            ("POST", f"{BASE}/{shared['id']}/preview", {"ticketId": ticket["id"]}),
        ):
            response = client.request(method, path, json=body, headers=customer.headers)
            assert response.status_code == 403, (method, path, response.text)
            assert "Shared" not in response.text
        assert usage(db, shared["id"]) == 0

    def test_anonymous_callers_are_asked_to_sign_in(self, client: TestClient) -> None:
        assert client.get(BASE).status_code == 401


class TestUpdateAndDelete:
    def test_owner_edits_and_deletes_their_reply(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        reply = create(client, agent, category="Old")
        response = client.patch(
            f"{BASE}/{reply['id']}", json={"title": "New title", "category": None}, headers=agent.headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["title"] == "New title"
        assert response.json()["category"] is None
        assert response.json()["body"] == reply["body"]  # not sent, not changed
        assert client.delete(f"{BASE}/{reply['id']}", headers=agent.headers).status_code == 204
        assert client.get(f"{BASE}/{reply['id']}", headers=agent.headers).status_code == 404

    def test_agents_may_not_change_shared_replies(self, client: TestClient, db: Database) -> None:
        agent, admin = make_agent(db), make_admin(db)
        shared = create(client, admin, title="House style", shared=True)
        assert (
            client.patch(f"{BASE}/{shared['id']}", json={"title": "x"}, headers=agent.headers).status_code
            == 403
        )
        assert client.delete(f"{BASE}/{shared['id']}", headers=agent.headers).status_code == 403
        assert titles(client, agent) == ["House style"]
        # ...nor make their own reply shared.
        mine = create(client, agent, title="Mine")
        assert (
            client.patch(f"{BASE}/{mine['id']}", json={"shared": True}, headers=agent.headers).status_code
            == 403
        )
        assert listed(client, agent, "?scope=shared")[0]["title"] == "House style"

    def test_admins_edit_delete_and_publish_shared_replies(self, client: TestClient, db: Database) -> None:
        admin, agent = make_admin(db), make_agent(db)
        shared = create(client, admin, title="House style", shared=True)
        response = client.patch(
            f"{BASE}/{shared['id']}", json={"body": "Hello {{agent.name}}"}, headers=admin.headers
        )
        assert response.status_code == 200
        assert response.json()["body"] == "Hello {{agent.name}}"
        draft = create(client, admin, title="Draft")
        published = client.patch(f"{BASE}/{draft['id']}", json={"shared": True}, headers=admin.headers).json()
        assert published["shared"] is True
        assert sorted(titles(client, agent)) == ["Draft", "House style"]
        assert client.delete(f"{BASE}/{shared['id']}", headers=admin.headers).status_code == 204
        assert titles(client, agent) == ["Draft"]


def _render(
    client: TestClient, persona: Persona, reply_id: int, ticket_id: object, kind: str = "render"
) -> Any:
    response = client.post(f"{BASE}/{reply_id}/{kind}", json={"ticketId": ticket_id}, headers=persona.headers)
    assert response.status_code == 200, response.text
    return response.json()


class TestRender:
    @pytest.mark.parametrize(
        ("variable", "expected"),
        [
            ("customer.name", "Maria Garcia-Lopez"),
            ("customer.first_name", "Maria"),
            ("customer.email", "{email}"),
            ("ticket.number", "{number}"),
            ("ticket.title", "Printer on fire"),
            ("ticket.status", "Open"),
            ("ticket.priority", "High"),
            ("ticket.department", "Technical"),
            ("agent.name", "Rita Renderer"),
            ("agent.email", "{agent_email}"),
        ],
    )
    def test_each_variable(self, client: TestClient, db: Database, variable: str, expected: str) -> None:
        customer = make_user(db, role=Role.CUSTOMER, name="Maria Garcia-Lopez")
        agent = make_user(db, role=Role.AGENT, departments=("technical",), name="Rita Renderer")
        ticket = api_ticket(
            client, customer, title="Printer on fire", priority="high", department="technical"
        )
        reply = create(client, agent, body=f"<{{{{ {variable} }}}}>")
        out = _render(client, agent, reply["id"], ticket["id"])
        want = expected.format(email=customer.email, number=ticket["number"], agent_email=agent.email)
        assert out["text"] == f"<{want}>"
        assert out["unknownVariables"] == []
        assert out["ticketId"] == ticket["id"]

    def test_a_whole_reply(self, client: TestClient, db: Database) -> None:
        customer = make_user(db, role=Role.CUSTOMER, name="Maria Garcia")
        agent = make_user(db, role=Role.AGENT, departments=("technical",), name="Rita Renderer")
        ticket = api_ticket(client, customer, department="technical")
        body = "Hi {{customer.first_name}},\n\nabout {{ticket.number}}: done.\n\n-- {{agent.name}}"
        reply = create(client, agent, body=body)
        text = _render(client, agent, reply["id"], ticket["id"])["text"]
        assert text == f"Hi Maria,\n\nabout {ticket['number']}: done.\n\n-- Rita Renderer"

    def test_render_counts_a_use_and_preview_does_not(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        ticket = api_ticket(client, make_customer(db), department="technical")
        reply = create(client, agent)
        preview = _render(client, agent, reply["id"], ticket["id"], "preview")
        assert preview["usageCount"] == 0
        assert preview["lastUsedAt"] is None
        assert usage(db, reply["id"]) == 0
        first = _render(client, agent, reply["id"], ticket["id"])
        second = _render(client, agent, reply["id"], ticket["id"])
        assert (first["usageCount"], second["usageCount"]) == (1, 2)
        assert second["lastUsedAt"] is not None
        assert first["text"] == preview["text"]
        view = client.get(f"{BASE}/{reply['id']}", headers=agent.headers).json()
        assert view["usageCount"] == 2
        assert view["lastUsedAt"] == second["lastUsedAt"]

    def test_a_ticket_the_agent_cannot_see_is_not_found(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db, departments=("technical",))
        elsewhere = api_ticket(client, make_customer(db), department="billing", title="Secret billing")
        reply = create(client, agent, body="{{ticket.title}} {{customer.name}}")
        for kind in ("render", "preview"):
            response = client.post(
                f"{BASE}/{reply['id']}/{kind}", json={"ticketId": elsewhere["id"]}, headers=agent.headers
            )
            assert response.status_code == 404
            assert "Secret billing" not in response.text
        assert usage(db, reply["id"]) == 0

    def test_shared_replies_are_usable_by_every_agent(self, client: TestClient, db: Database) -> None:
        admin, agent = make_admin(db), make_agent(db)
        ticket = api_ticket(client, make_customer(db), department="technical")
        shared = create(client, admin, shared=True, body="Ticket {{ticket.number}}")
        assert _render(client, agent, shared["id"], ticket["id"])["text"] == f"Ticket {ticket['number']}"
        assert usage(db, shared["id"]) == 1


HOSTILE = [
    ("{{settings.secret_key}}", "settings.secret_key"),
    ("{{ agent.password_hash }}", "agent.password_hash"),
    ("{{ ticket.__class__ }}", "ticket.__class__"),
    ("{{ ticket.__class__.__mro__[1].__subclasses__() }}", "ticket.__class__.__mro__[1].__subclasses__()"),
    ("{{ customer.name|upper }}", "customer.name|upper"),
    ("{{ customer['name'] }}", "customer['name']"),
    ("{{ config }}", "config"),
    ("{{ 7*7 }}", "7*7"),
    ("{% for u in users %}x{% endfor %}", "{% for u in users %}"),
    ("{% import os %}", "{% import os %}"),
    ("{# hidden #}", "{# hidden #}"),
]


class TestSandbox:
    @pytest.mark.parametrize(("template", "flagged"), HOSTILE)
    def test_hostile_template_renders_nothing_and_is_flagged(
        self, client: TestClient, db: Database, template: str, flagged: str
    ) -> None:
        agent = make_agent(db)
        ticket = api_ticket(client, make_customer(db), department="technical")
        saved = create(client, agent, body=f"[{template}]")  # saving still succeeds
        assert flagged in saved["unknownVariables"]
        out = _render(client, agent, saved["id"], ticket["id"])
        assert out["text"] in ("[]", "[x]")  # between statements, plain text stays text
        assert "test-secret-key" not in out["text"]
        assert flagged in out["unknownVariables"]

    def test_the_flag_names_every_unknown_once_in_order(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        body = "{{ a }} {{customer.name}} {{b}} {{ a }} {% c %}"
        assert create(client, agent, body=body)["unknownVariables"] == ["a", "b", "{% c %}"]

    def test_an_edit_that_adds_an_unknown_variable_is_flagged(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        reply = create(client, agent)
        response = client.patch(
            f"{BASE}/{reply['id']}", json={"body": "Key: {{settings.secret_key}}"}, headers=agent.headers
        )
        assert response.status_code == 200
        assert response.json()["unknownVariables"] == ["settings.secret_key"]

    def test_values_are_inserted_once_never_rendered_again(self, client: TestClient, db: Database) -> None:
        """A customer who calls themselves `{{agent.email}}` gets exactly that text back."""
        customer = make_user(db, role=Role.CUSTOMER, name="{{agent.email}} {% x %}")
        agent = make_agent(db)
        ticket = api_ticket(client, customer, title="{{customer.email}}", department="technical")
        reply = create(client, agent, body="{{customer.name}}|{{ticket.title}}")
        out = _render(client, agent, reply["id"], ticket["id"])
        assert out["text"] == "{{agent.email}} {% x %}|{{customer.email}}"
        assert out["unknownVariables"] == []


class TestUsageCount:
    def test_concurrent_uses_are_all_counted(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        ticket = api_ticket(client, make_customer(db), department="technical")
        reply = create(client, agent)
        errors: list[BaseException] = []

        def use(times: int) -> None:
            try:
                for _ in range(times):
                    with db.unit_of_work() as session:
                        canned_service.render_reply(
                            session, agent.actor, reply["id"], ticket_id=ticket["id"], count=True
                        )
            except BaseException as error:  # reported below, in the test's thread
                errors.append(error)

        threads = [threading.Thread(target=use, args=(5,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert usage(db, reply["id"]) == 20

    def test_a_use_counted_meanwhile_is_not_overwritten(
        self, client: TestClient, db: Database, database_url: str
    ) -> None:
        """Interleaved by hand: A loads the reply, B uses it and commits, then A uses it. A
        read-modify-write would store 1; the single UPDATE stores 2. (SQLite serialises writers
        with BEGIN IMMEDIATE, so the interleaving only exists on PostgreSQL.)"""
        if not database_url.startswith("postgresql"):
            pytest.skip("writers cannot interleave on SQLite")
        agent = make_agent(db)
        ticket = api_ticket(client, make_customer(db), department="technical")
        reply = create(client, agent)
        with db.unit_of_work() as first:
            loaded = canned_service.get_reply(first, agent.actor, reply["id"])
            assert loaded.usage_count == 0
            with db.unit_of_work() as second:
                canned_service.render_reply(
                    second, agent.actor, reply["id"], ticket_id=ticket["id"], count=True
                )
            result = canned_service.render_reply(
                first, agent.actor, reply["id"], ticket_id=ticket["id"], count=True
            )
            assert result.reply.usage_count == 2
        assert usage(db, reply["id"]) == 2


class TestListing:
    def _world(self, client: TestClient, db: Database) -> tuple[Persona, dict[str, int]]:
        agent, admin = make_agent(db), make_admin(db)
        ticket = api_ticket(client, make_customer(db), department="technical")
        ids = {
            "bravo": create(client, agent, title="bravo", body="refund steps", category="Billing")["id"],
            "Alpha": create(client, agent, title="Alpha", body="password reset", category="Access")["id"],
            "charlie": create(client, admin, title="charlie", body="50% off", shared=True)["id"],
            "delta": create(
                client, admin, title="delta", body="Reset your router", shared=True, category="Access"
            )["id"],
        }
        for name, uses in (("bravo", 3), ("charlie", 1), ("delta", 2)):
            for _ in range(uses):
                _render(client, agent, ids[name], ticket["id"])
        return agent, ids

    def test_sorting(self, client: TestClient, db: Database) -> None:
        agent, _ = self._world(client, db)
        assert titles(client, agent) == ["Alpha", "bravo", "charlie", "delta"]
        assert titles(client, agent, "?sort=title&order=desc") == ["delta", "charlie", "bravo", "Alpha"]
        assert titles(client, agent, "?sort=usage") == ["bravo", "delta", "charlie", "Alpha"]
        assert titles(client, agent, "?sort=usage&order=asc") == ["Alpha", "charlie", "delta", "bravo"]
        # Last used: the most recent first; never used at the end, whatever the order.
        assert titles(client, agent, "?sort=last_used") == ["delta", "charlie", "bravo", "Alpha"]
        assert titles(client, agent, "?sort=last_used&order=asc")[-1] == "Alpha"
        assert titles(client, agent, "?sort=category") == ["Alpha", "delta", "bravo", "charlie"]

    def test_search_scope_category_and_pages(self, client: TestClient, db: Database) -> None:
        agent, _ = self._world(client, db)
        assert titles(client, agent, "?q=reset") == ["Alpha", "delta"]
        assert titles(client, agent, "?q=BRAVO") == ["bravo"]
        assert titles(client, agent, "?q=50%25") == ["charlie"]  # % is a character, not a wildcard
        assert titles(client, agent, "?q=_") == []
        assert titles(client, agent, "?scope=personal") == ["Alpha", "bravo"]
        assert titles(client, agent, "?scope=shared") == ["charlie", "delta"]
        assert titles(client, agent, "?category=Access") == ["Alpha", "delta"]
        assert titles(client, agent, "?category=Access&scope=shared&q=router") == ["delta"]
        page = client.get(f"{BASE}?page=2&page_size=3", headers=agent.headers).json()
        assert [r["title"] for r in page["data"]] == ["delta"]
        assert page["pagination"] == {
            "total": 4,
            "page": 2,
            "pageSize": 3,
            "totalPages": 2,
            "totalCapped": False,
        }

    def test_bad_parameters_are_422(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        for query in ("?sort=owner_id", "?scope=everyone", "?order=sideways", "?page_size=1000"):
            assert client.get(f"{BASE}{query}", headers=agent.headers).status_code == 422, query

    def test_variables_lists_the_allow_list(self, client: TestClient, db: Database) -> None:
        agent = make_agent(db)
        data = client.get(f"{BASE}/variables", headers=agent.headers).json()["data"]
        names = [v["name"] for v in data]
        assert "customer.name" in names and "agent.email" in names
        assert not any("password" in n or "secret" in n for n in names)
        assert data[0]["placeholder"] == "{{" + data[0]["name"] + "}}"
