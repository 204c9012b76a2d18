"""The composition root: builds the FastAPI app, registers job handlers, runs background work."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import structlog
from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketry import __version__
from ticketry.api import errors
from ticketry.api.router import api_router
from ticketry.auth import service as auth_service
from ticketry.core.config import Settings, get_settings
from ticketry.core.db import Database
from ticketry.jobs import service as job_service
from ticketry.jobs.worker import Worker
from ticketry.tickets.views import flush_views

log = structlog.get_logger(__name__)


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(message)s")
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper()))
    )


# --- periodic housekeeping ----------------------------------------------------------------------


@dataclass
class Periodic:
    every_seconds: float
    run: Callable[[Database], None]
    last: float = field(default=0.0)


def _flush_buffers(db: Database) -> None:
    with db.unit_of_work() as session:
        flush_views(session)
        auth_service.flush_token_usage(session)


def _purge(db: Database) -> None:
    with db.unit_of_work() as session:
        auth_service.purge_expired(session)
        job_service.purge_finished(session)


class Background:
    """The in-process worker and scheduler of a single-node install (DESIGN.md §1)."""

    def __init__(self, db: Database, *, run_worker: bool) -> None:
        self.db = db
        self.run_worker = run_worker
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.tasks = [Periodic(2.0, _flush_buffers), Periodic(3600.0, _purge)]

    def start(self) -> None:
        if self.run_worker:
            worker = Worker(self.db)
            self.threads.append(
                threading.Thread(
                    target=worker.run_forever, args=(self.stop,), daemon=True, name="ticketry-worker"
                )
            )
        self.threads.append(threading.Thread(target=self._schedule, daemon=True, name="ticketry-scheduler"))
        for thread in self.threads:
            thread.start()

    def _schedule(self) -> None:
        while not self.stop.wait(1.0):
            self.tick()

    def tick(self) -> None:
        clock = time.monotonic()
        for task in self.tasks:
            if clock - task.last >= task.every_seconds:
                task.last = clock
                try:
                    task.run(self.db)
                except Exception:  # housekeeping must never take the process down
                    log.exception("scheduler.task_failed", task=task.run.__name__)

    def shutdown(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)
        _flush_buffers(self.db)


# --- security headers ---------------------------------------------------------------------------


class SecurityHeaders:
    """Headers every response carries; a pure ASGI middleware so it costs next to nothing."""

    HEADERS = (
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
    )
    API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_api = scope["path"].startswith("/api/v1")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(self.HEADERS)
                if is_api:
                    headers.append(self.API_CSP)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


# --- the app ------------------------------------------------------------------------------------


def create_app(
    settings: Settings | None = None, *, db: Database | None = None, background: bool = True
) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level)
    database = db or Database.connect(settings.database_url)
    runner = Background(database, run_worker=settings.inprocess_worker) if background else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if runner:
            runner.start()
        yield
        if runner:
            runner.shutdown()
        if db is None:
            database.dispose()

    app = FastAPI(
        title="Ticketry",
        version=__version__,
        description="Self-hosted helpdesk API. Authenticate with `Authorization: Bearer <token>` "
        "(get one from `POST /api/v1/auth/login`).",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.db = database
    app.state.settings = settings
    errors.install(app)
    app.include_router(api_router)
    app.add_middleware(SecurityHeaders)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/api/docs")

    return app
