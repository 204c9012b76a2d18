"""A saved view whose stored filter no longer reads (issue 12 item 12, found by the route walk):
a shared view naming a department that is gone broke `GET /views` and the desk sidebar for every
agent, and a stored `%00` decoded into a real NUL only when the view was read, reaching the
database (a 422 on PostgreSQL, stored on SQLite). Now each such view shows its problem and the
rest of the list works (CWE-20 improper input validation, CWE-158 NUL byte)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.factories import make_admin, make_agent
from ticketry.core.db import Database
from ticketry.search.models import SavedView


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("department=gone-dept", "department"),
        ("q=%00printer", "Control characters"),
        ("status=open%1B", "Control"),
    ],
)
def test_a_broken_shared_view_shows_its_problem_and_the_list_still_answers(
    client: TestClient, db: Database, query: str, problem: str
) -> None:
    admin, agent = make_admin(db), make_agent(db)
    with db.unit_of_work() as session:
        session.add(SavedView(name="Broken", owner_id=admin.id, is_shared=True, query=query))
        session.add(SavedView(name="Fine", owner_id=admin.id, is_shared=True, query="status=open"))
    response = client.get("/api/v1/views", headers=agent.headers)
    assert response.status_code == 200, response.text
    by_name = {view["name"]: view for view in response.json()["data"]}
    assert problem.lower() in (by_name["Broken"]["problem"] or "").lower()
    assert by_name["Fine"]["problem"] is None and by_name["Fine"]["count"] == 0
