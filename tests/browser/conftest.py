"""Real-browser tests: a real `ticketry serve` process per backend, driven by Debian's Chromium.

The server runs on a fresh migrated database (SQLite, and PostgreSQL when
TICKETRY_TEST_POSTGRES_URL is set) for the whole session; tests seed their own users, departments
and tickets through the services, so they never see each other's rows where it matters.
Every page a test opens is watched: a JavaScript error, a CSP violation or any dialog
(alert/confirm/prompt) fails the test.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Dialog,
    Page,
    expect,
    sync_playwright,
)

from tests.conftest import BACKENDS, POSTGRES_URL, PostgresTemplate
from tests.factories import PASSWORD, Persona, make_ticket, make_user
from ticketry.core.db import Database
from ticketry.tickets.models import Ticket
from ticketry.users import service as users
from ticketry.users.models import Role

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "tests" / "screenshots"
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
# The machine may be busy (CI runs on two cores): generous waits, never fixed sleeps.
TIMEOUT_MS = 15_000
SERVER_START_SECONDS = 120
# A live change (SSE, then the page refetches itself) shows up in about 0.3 s on a quiet machine;
# the assertions allow more for a busy CI runner, and check that the page did not reload.
LIVE_MS = 5_000
expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(autouse=True, scope="session")
def _chromium_present() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")


# --- the server ---------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ticketry_command() -> str:
    beside = Path(sys.executable).parent / "ticketry"
    found = str(beside) if beside.exists() else shutil.which("ticketry")
    if not found:
        pytest.fail("the `ticketry` command is not installed (pip install -e .)")
    return found


@dataclass
class Server:
    """A running `ticketry serve`, and the database it serves (for seeding)."""

    backend: str
    url: str
    db: Database
    log: Path

    def department(self) -> str:
        """A fresh department: a test's agents see only its own tickets in their queue."""
        slug = f"dept-{uuid.uuid4().hex[:8]}"
        with self.db.unit_of_work() as session:
            users.create_department(session, slug=slug, name=f"Team {slug[5:]}")
        return slug

    def customer(self, *, name: str | None = None) -> Persona:
        return make_user(self.db, role=Role.CUSTOMER, name=name)

    def agent(self, department: str, *, name: str | None = None) -> Persona:
        return make_user(self.db, role=Role.AGENT, departments=(department,), name=name)

    def admin(self, *, name: str | None = None) -> Persona:
        return make_user(self.db, role=Role.ADMIN, departments=(), name=name)

    def ticket(self, customer: Persona, department: str, **fields: Any) -> Ticket:
        """Straight into the database: the server's pages show it, but no live event is sent
        from this process on SQLite (the server's own requests publish those)."""
        return make_ticket(self.db, customer, department=department, **fields)

    def api(self, persona: Persona, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A call to the server's JSON API, as an integration would make it."""
        request = urllib.request.Request(  # noqa: S310 - our own server
            self.url + path,
            data=json.dumps(body).encode(),
            method=method,
            headers={**persona.headers, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            data: dict[str, Any] = json.loads(response.read())
            return data


def _wait_until_healthy(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"ticketry serve exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/v1/health", timeout=2) as response:  # noqa: S310
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"ticketry serve did not answer /api/v1/health in time:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[Server]:
    backend: str = request.param
    workdir = tmp_path_factory.mktemp(f"browser-{backend}")
    postgres: PostgresTemplate | None = None
    if backend == "sqlite":
        path = workdir / "ticketry.db"
        shutil.copyfile(sqlite_template, path)
        database_url = f"sqlite:///{path}"
    else:
        assert POSTGRES_URL is not None
        postgres = PostgresTemplate(POSTGRES_URL)  # its own database, created and migrated
        database_url = postgres.url
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "TICKETRY_DATABASE_URL": database_url,
        "TICKETRY_SECRET_KEY": "browser-tests-" + uuid.uuid4().hex,
        "TICKETRY_INPROCESS_WORKER": "true",
        "TICKETRY_LOG_LEVEL": "WARNING",
    }
    log = workdir / "server.log"
    db = Database.connect(database_url, pool_size=2)
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
            [_ticketry_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-migrate"],
            env=env,
            cwd=workdir,  # no stray .env from the checkout
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(process, url, log)
        yield Server(backend=backend, url=url, db=db, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        db.dispose()
        if postgres is not None:
            postgres.drop()


# --- the browser --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Watch:
    """What the pages of one test said: console errors, uncaught exceptions, dialogs."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        if message.type not in ("error", "warning"):
            return
        text = message.text
        if message.type == "warning" and "Content Security Policy" not in text:
            return
        if "favicon" in (message.location.get("url") or "") or "favicon" in text:
            return
        self.errors.append(f"{message.type}: {text} ({message.location.get('url')})")

    def page_error(self, error: Exception) -> None:
        self.errors.append(f"uncaught: {error}")

    def dialog(self, dialog: Dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()


class Browsing:
    """Opens pages, each in its own browser context (its own cookies), watched for trouble."""

    def __init__(self, browser: Browser, server: Server, watch: Watch, name: str) -> None:
        self.browser = browser
        self.server = server
        self.watch = watch
        self.name = name
        self.contexts: list[BrowserContext] = []

    def context(self) -> BrowserContext:
        context = self.browser.new_context(base_url=self.server.url, viewport={"width": 1280, "height": 800})
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        self.contexts.append(context)
        return context

    def page(self, as_user: Persona | None = None, context: BrowserContext | None = None) -> Page:
        page = (context or self.context()).new_page()
        page.on("console", self.watch.console)
        page.on("pageerror", self.watch.page_error)
        page.on("dialog", self.watch.dialog)
        if as_user is not None:
            sign_in(page, as_user)
        return page

    def close(self) -> None:
        for context in self.contexts:
            context.close()


def sign_in(page: Page, persona: Persona, *, next_path: str | None = None) -> None:
    """Through the real form, as a person would."""
    page.goto("/login" + (f"?next={next_path}" if next_path else ""))
    page.get_by_label("E-mail").fill(persona.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/login" not in url)


def shoot(page: Page, server: Server, name: str) -> None:
    """Keep a picture of the page for people to look at (tests/screenshots/, not committed).
    Pages look the same on every backend: one picture (from the first backend) is enough."""
    if server.backend != BACKENDS[0]:
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # caret="initial": hiding the caret leaves `style=""` on every field, which htmx then carries
    # onto the next page's fields when a form is sent, and the CSP (style-src 'self') reports.
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True, caret="initial")


def wait_live(page: Page) -> None:
    """The page's SSE stream is open (the server said `ready`)."""
    expect(page.locator("body")).to_have_attribute("data-live", "connected")


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def browsing(
    browser: Browser, server: Server, watch: Watch, request: pytest.FixtureRequest
) -> Iterator[Browsing]:
    session = Browsing(browser, server, watch, request.node.name)
    yield session
    session.close()
    assert not watch.dialogs, f"a dialog opened: {watch.dialogs}"
    assert not watch.errors, "the browser console reported errors:\n" + "\n".join(watch.errors)


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_JS.is_file():
        pytest.fail(f"{AXE_JS} is missing: run `npm ci` (make install)")
    return AXE_JS.read_text()
