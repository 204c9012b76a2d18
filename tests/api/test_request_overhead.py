"""What every request costs before a route's own work: choosing the route from one flat table,
and the thread hops of its dependencies (docs/architecture.md §4, "The request path")."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import anyio.to_thread
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel
from tests.factories import make_agent, make_customer, make_ticket, web_session

from ticketry.core.db import Database
from ticketry.http.routing import absorb


async def app_wide(x_app: Annotated[str | None, Header()] = None) -> None:
    """A dependency every route gets from the outer router."""


def module_wide() -> None:
    """A dependency every route of one module gets from its own router."""


class Thing(BaseModel):
    id: int


def _module_router() -> APIRouter:
    router = APIRouter(
        prefix="/things",
        tags=["things"],
        dependencies=[Depends(module_wide)],
        responses={418: {"description": "a teapot"}},
    )

    @router.get("/{thing_id}", response_model=Thing, summary="One thing", name="thing")
    def thing(thing_id: int) -> Thing:
        return Thing(id=thing_id)

    @router.post("", status_code=201, response_model=Thing, include_in_schema=False)
    def make(item: Thing) -> Thing:
        return item

    @router.delete("/{thing_id}", status_code=204, deprecated=True, operation_id="drop_thing")
    def drop(thing_id: int) -> None:
        return None

    return router


def _described(app: FastAPI) -> list[tuple[Any, ...]]:
    return [
        (
            context.path,
            sorted(context.methods or ()),
            context.name,
            [getattr(d.dependency, "__name__", None) for d in getattr(context, "dependencies", ())],
            list(getattr(context, "tags", ())),
            getattr(context, "status_code", None),
            getattr(context, "include_in_schema", None),
        )
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    ]


def test_absorbed_routes_are_the_routes_include_router_makes() -> None:
    """Paths with both prefixes, the outer router's dependencies before the module's, tags,
    responses, status codes, names and the schema flag: the same app either way."""
    included = APIRouter(prefix="/api", dependencies=[Depends(app_wide)])
    included.include_router(_module_router())
    absorbed = APIRouter(prefix="/api", dependencies=[Depends(app_wide)])
    absorb(absorbed, _module_router())
    old, new = FastAPI(), FastAPI(routes=absorbed.routes)
    old.include_router(included)

    assert _described(new) == _described(old)
    assert new.openapi()["paths"] == old.openapi()["paths"]
    assert _described(new)[0][:4] == ("/api/things/{thing_id}", ["GET"], "thing", ["app_wide", "module_wide"])

    with TestClient(new) as client:
        assert client.get("/api/things/7").json() == {"id": 7}
        assert client.post("/api/things", json={"id": 3}).status_code == 201
        assert client.get("/api/things/nope").status_code == 422
        assert client.get("/things/7").status_code == 404


def test_only_api_routes_can_be_absorbed() -> None:
    """A route of another kind is refused, not dropped without a word."""
    router = APIRouter()

    async def socket(websocket: Any) -> None:
        return None

    router.routes.append(APIWebSocketRoute("/live", socket))
    with pytest.raises(TypeError, match="only API routes"):
        absorb(APIRouter(), router)


def test_the_app_has_one_flat_route_table(client: TestClient) -> None:
    """Every route of the app is a route of its own list: no router branch walked per request."""
    kinds = {type(route).__name__ for route in client.app.routes}  # type: ignore[attr-defined]
    assert kinds <= {"APIRoute", "Route", "Mount"}, kinds
    assert len(client.app.routes) > 200  # type: ignore[attr-defined]


@contextmanager
def hops() -> Iterator[list[str]]:
    """The functions sent to the thread pool while the block runs."""
    sent: list[str] = []
    original: Callable[..., Any] = anyio.to_thread.run_sync

    async def counted(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        target = getattr(func, "func", func)
        sent.append(getattr(target, "__qualname__", repr(target)))
        return await original(func, *args, **kwargs)

    anyio.to_thread.run_sync = counted  # type: ignore[assignment]
    try:
        yield sent
    finally:
        anyio.to_thread.run_sync = original  # type: ignore[assignment]


# The actor, the route, FastAPI's check of the answer, the commit.
API_READ_HOPS = 4
# The browser session, the route, the commit.
PAGE_HOPS = 3


def test_an_api_read_makes_four_thread_hops(client: TestClient, db: Database) -> None:
    agent = make_agent(db)
    ticket_id = make_ticket(db, make_customer(db)).id
    for url in ("/api/v1/tickets?status=open", f"/api/v1/tickets/{ticket_id}", "/api/v1/priorities"):
        client.get(url, headers=agent.headers)
        with hops() as sent:
            response = client.get(url, headers=agent.headers)
        assert response.status_code == 200, response.text
        assert len(sent) == API_READ_HOPS, (url, sent)


def test_a_page_makes_three_thread_hops(client: TestClient, db: Database) -> None:
    agent = make_agent(db)
    make_ticket(db, make_customer(db))
    secret, _ = web_session(db, agent)
    client.cookies.set("ticketry_session", secret)
    client.get("/desk")
    with hops() as sent:
        response = client.get("/desk")
    assert response.status_code == 200, response.text
    assert len(sent) == PAGE_HOPS, sent
