"""The composition root: builds the FastAPI app, registers job handlers, runs background work."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticketry import __version__
from ticketry.api import errors
from ticketry.api.router import api_router
from ticketry.attachments import service as attachment_service
from ticketry.attachments.intake import FileStore
from ticketry.auth import mail as account_mail
from ticketry.auth import service as auth_service
from ticketry.core.config import Settings, get_settings
from ticketry.core.db import Database
from ticketry.core.errors import DomainError
from ticketry.http.deps import SESSION_COOKIE
from ticketry.http.openapi import EXTRA_SCHEMAS
from ticketry.jobs import service as job_service
from ticketry.jobs.worker import Worker
from ticketry.mail.inbound import ingest as mail_ingest
from ticketry.mail.inbound import poller as mail_poller
from ticketry.mail.outbound import service as mail_outbound
from ticketry.notifications import tasks as notification_tasks
from ticketry.realtime import broker, presence
from ticketry.sitesettings import service as site_settings
from ticketry.tickets.views import flush_views
from ticketry.web import errors as web_errors
from ticketry.web.router import mount_static, web_router
from ticketry.web.session import LoginRequired

log = structlog.get_logger(__name__)
# Job handlers register themselves on import; the composition root imports every one.
JOB_MODULES = (mail_outbound, account_mail, notification_tasks, mail_ingest, mail_poller)


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(message)s")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.StackInfoRenderer(),
            structlog.dev.set_exc_info,
            structlog.processors.TimeStamper(fmt="%Y-%m-%d %H:%M:%S", utc=False),
            # Plain tracebacks: the default (rich, with every local variable) took minutes to
            # render a request's ORM objects, holding the request and a CPU the whole time.
            structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
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


def _purge(db: Database, files: FileStore) -> None:
    with db.unit_of_work() as session:
        auth_service.purge_expired(session)
        job_service.purge_finished(session)
        presence.purge(session)
        retention = site_settings.current(session).attachment_retention_days
    attachment_service.sweep(db, files.storage, retention_days=retention)


def _schedule_mail_polls(db: Database) -> None:
    mail_poller.schedule_due(db)


class Background:
    """The in-process worker and scheduler of a single-node install (docs/architecture.md §1)."""

    def __init__(self, db: Database, files: FileStore, *, run_worker: bool) -> None:
        self.db = db
        self.run_worker = run_worker
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.tasks = [
            Periodic(2.0, _flush_buffers),
            Periodic(5.0, _schedule_mail_polls),
            Periodic(3600.0, partial(_purge, files=files)),
        ]

    def start(self) -> None:
        if self.run_worker:
            worker = Worker(self.db)
            self.threads.append(
                threading.Thread(
                    target=worker.run_forever, args=(self.stop,), daemon=True, name="ticketry-worker"
                )
            )
        self.threads.append(threading.Thread(target=self._schedule, daemon=True, name="ticketry-scheduler"))
        if self.db.dialect == "postgresql":
            # Live events from every process arrive through LISTEN/NOTIFY.
            url = self.db.engine.url.render_as_string(hide_password=False)
            self.threads.append(
                threading.Thread(
                    target=broker.listen_postgres,
                    args=(url, self.stop),
                    daemon=True,
                    name="ticketry-realtime",
                )
            )
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
                    log.exception("scheduler.task_failed", task=getattr(task.run, "__name__", repr(task.run)))

    def shutdown(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)
        _flush_buffers(self.db)


# --- security headers ---------------------------------------------------------------------------


class SecurityHeaders:
    """Headers every response carries; a pure ASGI middleware so it costs next to nothing.

    `Cache-Control: no-store` (issue 12, item 6) on every answer that may carry a credential or
    what one opens, replacing whatever the route chose: every API answer (the login and token
    creation answers carry bearer tokens), every answer to a request that sends a credential (the
    session cookie or an `Authorization` header: signed-in pages, downloads, exports, the event
    stream) and every answer that sets a cookie. So nothing a signed-in person saw stays in a
    browser's or a proxy's cache after they sign out. Static assets keep their caching, and
    public pages fetched without a credential are left alone.

    `Strict-Transport-Security` when cookies are marked Secure, i.e. the site is served over
    HTTPS (docs/scale-out.md, "TLS").
    """

    HEADERS = (
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"same-origin"),
    )
    NO_STORE = (b"cache-control", b"no-store")
    HSTS = (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
    API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
    # Pages: only our own scripts and styles, no inline code, no plugins, no framing.
    PAGE_CSP = (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        b"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    )
    # The interactive API docs (Swagger UI) start with a small inline script.
    DOCS_CSP = (
        b"content-security-policy",
        b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
        b"img-src 'self' data:; object-src 'none'; frame-ancestors 'none'",
    )
    SESSION_COOKIE_PREFIX = SESSION_COOKIE.encode() + b"="

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.always = (*self.HEADERS, self.HSTS) if hsts else self.HEADERS

    def _sends_credential(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization" or (name == b"cookie" and self.SESSION_COOKIE_PREFIX in value):
                return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        csp = (
            self.DOCS_CSP
            if path == "/api/docs"
            else self.API_CSP
            if path.startswith("/api/")
            else self.PAGE_CSP
        )
        private = not path.startswith("/static/") and (
            path.startswith("/api/") or self._sends_credential(scope)
        )

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                if private or b"set-cookie" in present:
                    headers = [h for h in headers if h[0].lower() != b"cache-control"]
                    headers.append(self.NO_STORE)
                # A response that set its own (a download's sandbox) keeps it.
                headers.extend(h for h in (*self.always, csp) if h[0] not in present)
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
    files = FileStore.from_settings(settings)
    runner = Background(database, files, run_worker=settings.inprocess_worker) if background else None

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
        docs_url=None,  # served by the web router from our own Swagger UI copy
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
        # One flat list, built once per process (ticketry.http.routing); the pages' own
        # /static/vendor route comes before the static mount, which would swallow it.
        routes=[*api_router.routes, *web_router.routes],
    )
    app.state.db = database
    app.state.settings = settings
    app.state.files = files
    _document_streamed_bodies(app)
    _install_error_handlers(app)
    mount_static(app)
    app.add_middleware(SecurityHeaders, hsts=settings.secure_cookies)
    return app


def _document_streamed_bodies(app: FastAPI) -> None:
    """Routes that read their own (streamed) bodies describe them by reference; add the models."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for name, model in EXTRA_SCHEMAS.items():
                components.setdefault(name, model)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


ErrorHandler = Callable[[Request, Any], Response]


def _install_error_handlers(app: FastAPI) -> None:
    """API paths answer with the JSON envelope; browser pages with HTML (form errors as a flash)."""
    errors.install(app)

    def choose(api_handler: ErrorHandler, page_handler: ErrorHandler) -> ErrorHandler:
        def handle(request: Request, error: Exception) -> Response:
            return (
                page_handler(request, error) if web_errors.is_page(request) else api_handler(request, error)
            )

        return handle

    app.add_exception_handler(DomainError, choose(errors.domain_error, web_errors.domain_error))
    app.add_exception_handler(
        RequestValidationError, choose(errors.validation_error, web_errors.validation_error)
    )
    app.add_exception_handler(StarletteHTTPException, choose(errors.http_error, web_errors.http_error))
    app.add_exception_handler(LoginRequired, web_errors.login_required)  # type: ignore[arg-type]
