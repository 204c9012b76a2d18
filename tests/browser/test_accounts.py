"""Signing in and out the way browsers do it: cookies, redirects, refusals."""

from __future__ import annotations

import re

from playwright.sync_api import BrowserContext, expect

from tests.browser.conftest import Browsing, Server, shoot, sign_in
from tests.factories import PASSWORD

SESSION_COOKIE = "ticketry_session"


def _session_cookie(context: BrowserContext) -> dict[str, object] | None:
    for cookie in context.cookies():
        if cookie.get("name") == SESSION_COOKIE:
            return dict(cookie)
    return None


def test_sign_out_revokes_the_session(browsing: Browsing, server: Server) -> None:
    customer = server.customer()
    context = browsing.context()
    page = browsing.page(customer, context=context)
    stolen = _session_cookie(context)
    assert stolen is not None
    assert stolen["httpOnly"] is True
    assert stolen["sameSite"] == "Lax"

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".flash")).to_have_text("You are signed out.")
    assert _session_cookie(context) is None

    # The old cookie, replayed from elsewhere, is worth nothing now.
    replay = browsing.context()
    replay.add_cookies([{"name": SESSION_COOKIE, "value": str(stolen["value"]), "url": server.url}])
    other = browsing.page(context=replay)
    other.goto("/tickets/new")
    expect(other).to_have_url(re.compile(r"/login\?next=/tickets/new$"))
    expect(other.get_by_role("heading", name="Sign in")).to_be_visible()
    response = replay.request.get(f"{server.url}/api/v1/tickets")
    assert response.status == 401


def test_session_cookie_changes_at_sign_in(browsing: Browsing, server: Server) -> None:
    """An attacker who plants a session id in the victim's browser gains nothing (no fixation)."""
    customer = server.customer()
    context = browsing.context()
    context.add_cookies([{"name": SESSION_COOKIE, "value": "planted-by-attacker", "url": server.url}])
    page = browsing.page(context=context)
    sign_in(page, customer)
    expect(page.get_by_role("heading", name="My tickets")).to_be_visible()
    issued = _session_cookie(context)
    assert issued is not None
    assert issued["value"] != "planted-by-attacker"
    assert len(str(issued["value"])) >= 32  # a server-made secret, not something guessable


def test_offsite_next_is_refused(browsing: Browsing, server: Server) -> None:
    customer = server.customer()
    page = browsing.page()
    for target in ("//evil.example", "https://evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        page.goto(f"/login?next={target}")
        assert page.locator("input[name=next]").input_value() == "", target
    page.goto("/login?next=/desk%3Fview%3Dall")
    assert page.locator("input[name=next]").input_value() == "/desk?view=all"

    sign_in(page, customer, next_path="//evil.example")
    assert page.url.startswith(server.url + "/"), page.url
    expect(page.get_by_role("heading", name="My tickets")).to_be_visible()

    # Already signed in, /login forwards at once: still never off-site...
    page.goto("/login?next=//evil.example/steal")
    assert page.url.startswith(server.url + "/"), page.url
    # ...while a same-origin target is honoured (so the refusals above are not by accident).
    page.goto("/login?next=/tickets/new")
    expect(page).to_have_url(re.compile(r"/tickets/new$"))


def test_wrong_password_does_not_reveal_whether_the_account_exists(
    browsing: Browsing, server: Server
) -> None:
    customer = server.customer()
    page = browsing.page()
    messages = []
    for email, password in (
        (customer.email, "not the password"),
        ("nobody-" + customer.email, PASSWORD),
    ):
        page.goto("/login")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign in").click()
        flash = page.locator(".flash-error")
        expect(flash).to_be_visible()
        expect(page).to_have_url(re.compile(r"/login"))
        messages.append(flash.inner_text())
    shoot(page, server, "login-refused")
    assert messages[0] == messages[1]
    lowered = messages[0].lower()
    for revealing in ("exist", "unknown", "no account", "not found", "no user", "not registered"):
        assert revealing not in lowered, messages[0]
    assert _session_cookie(page.context) is None
