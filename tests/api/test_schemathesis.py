"""Property-based fuzzing of every operation in /openapi.json: no input, valid or not, from an
admin or a customer, ever gets a 5xx (docs/product.md §7 "Bad input gets a clear 4xx error, never a 500").

Schemathesis generates requests from the app's own schema (positive and negative data), sends
them in-process through the test client, and checks `not_a_server_error`. Bounded: a fixed
number of examples per operation, so the whole run takes seconds to a minute or two.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from tests.factories import Persona, make_admin, make_agent, make_customer, make_organization, make_ticket

from ticketry.auth import service as auth_service
from ticketry.core.db import Database
from ticketry.users import service as users

EXAMPLES_PER_OPERATION = 20
# Argon2 makes each sign-in deliberately slow; a few examples cover its input handling.
EXAMPLES_PER_SLOW_OPERATION = {"POST /api/v1/auth/login": 5}
# Operations that end the caller's own credential get a fresh token of a spare admin each time,
# so the personas above keep working for the rest of the run.
SPENDS_THE_CALLERS_TOKEN = {
    "POST /api/v1/auth/logout",
    "POST /api/v1/auth/sign-out-everywhere",
    "DELETE /api/v1/users/me/tokens/{token_id}",
}
USER_PATH_PARAMETERS = ("user_id",)


def _fresh_token(db: Database, persona: Persona) -> dict[str, str]:
    with db.unit_of_work() as session:
        _, secret = auth_service.create_token(session, users.get_user(session, persona.id), name="fuzz")
    return {"Authorization": f"Bearer {secret}"}


def _seed(db: Database) -> tuple[Persona, Persona, Persona]:
    """A little data for generated ids to land on: users, an organization, tickets, messages."""
    admin = make_admin(db)
    customer = make_customer(db, organization_id=make_organization(db, shared=True))
    spare = make_admin(db)
    agent = make_agent(db)
    for department in ("technical", "billing"):
        make_ticket(db, customer, department=department)
    make_ticket(db, make_customer(db))
    del agent
    return admin, customer, spare


def _form_value(value: Any) -> Any:
    """A multipart field is text on the wire; httpx wants str or bytes, not the generated JSON."""
    if isinstance(value, str | bytes):
        return value
    if isinstance(value, list):
        return [_form_value(item) for item in value]
    return json.dumps(value)


def _send(client: TestClient, case: Case, headers: dict[str, str]) -> Any:
    request = case.as_transport_kwargs(headers=headers)
    request.pop("base_url", None)
    if isinstance(request.get("data"), dict):
        request["data"] = {name: _form_value(value) for name, value in request["data"].items()}
    if isinstance(request.get("files"), list):
        request["files"] = [
            (name, (filename, _form_value(content), *rest))
            for name, (filename, content, *rest) in request["files"]
        ]
    prepared = client.build_request(**request)
    prepared.read()  # multipart bodies stream; schemathesis reads the request back when checking
    return client.send(prepared)


def _fuzz(
    client: TestClient,
    db: Database,
    operation: APIOperation,
    *,
    callers: list[Persona],
    spare: Persona,
    protected_users: set[int],
    statuses: Counter[int],
) -> None:
    """Run one operation's examples; raises the first server error found (shrunk by Hypothesis)."""
    label = operation.label
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ).filter(
        # Deactivating or demoting a persona would turn the rest of the run into 401s.
        lambda case: (
            not any(
                (case.path_parameters or {}).get(name) in protected_users for name in USER_PATH_PARAMETERS
            )
        )
    )

    @settings(
        max_examples=EXAMPLES_PER_SLOW_OPERATION.get(label, EXAMPLES_PER_OPERATION),
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, caller=st.sampled_from(callers))
    def fuzz(case: Case, caller: Persona) -> None:
        headers = _fresh_token(db, spare) if label in SPENDS_THE_CALLERS_TOKEN else caller.headers
        response = _send(client, case, headers)
        statuses[response.status_code // 100] += 1
        case.validate_response(response, checks=[not_a_server_error])

    fuzz()


def test_no_operation_answers_a_5xx(client: TestClient, db: Database) -> None:
    admin, customer, spare = _seed(db)
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40

    failures: list[str] = []
    statuses: Counter[int] = Counter()
    for operation in operations:
        try:
            _fuzz(
                client,
                db,
                operation,
                callers=[admin, customer],
                spare=spare,
                protected_users={admin.id, customer.id},
                statuses=statuses,
            )
        except (AssertionError, BaseExceptionGroup) as failure:  # report every operation, not the first
            failures.append(f"{operation.label}: {failure!r}")

    assert not failures, "\n\n".join(failures)
    # The run reached the handlers: plenty of successes, and the personas still authenticate.
    assert statuses[2] > len(operations), statuses
    for persona in (admin, customer):
        assert client.get("/api/v1/users/me", headers=persona.headers).status_code == 200
