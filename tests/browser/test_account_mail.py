"""The account-mail pages in a real browser: forgot password, the reset form from a mailed link,
the portal's "confirm your address" banner; each checked with axe-core like the main pages."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from datetime import timedelta
from typing import Any

from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.browser.conftest import Browsing, Server, sign_in
from tests.browser.test_accessibility import _check
from tests.factories import Persona
from ticketry.auth.models import OneTimeToken
from ticketry.core.clock import now

NEW_PASSWORD = "a brand new passphrase"


def planted_reset_link(server: Server, persona: Persona) -> str:
    """What the reset mail would carry (the server under test has no SMTP server to send it)."""
    secret = secrets.token_urlsafe(32)
    with server.db.unit_of_work() as session:
        session.add(
            OneTimeToken(
                user_id=persona.id,
                purpose="password_reset",
                token_hash=hashlib.sha256(secret.encode()).hexdigest(),
                expires_at=now() + timedelta(hours=1),
            )
        )
    return f"/password/reset?token={secret}"


def wait_for_reset_job(server: Server, persona: Persona) -> None:
    """The server's worker handled the request (a newer link would void the one planted next)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with server.db.unit_of_work(write=False) as session:
            if session.scalar(select(OneTimeToken.id).where(OneTimeToken.user_id == persona.id)):
                return
        time.sleep(0.1)
    raise AssertionError("the server's worker never handled the reset request")


def _no_serious_problems(found: dict[str, Any]) -> None:
    assert not found, "axe found serious or critical problems:\n" + "\n".join(
        f"{name}: {v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"])
        for name, violations in found.items()
        for v in violations
    )


def test_forgot_password_then_reset_from_the_link(
    browsing: Browsing, server: Server, axe_source: str
) -> None:
    customer = server.customer()
    found: dict[str, Any] = {}
    page: Page = browsing.page()
    page.goto("/login")

    page.get_by_role("link", name="Forgot your password?").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    _check(page, server, axe_source, "password-forgot", found)
    page.get_by_label("E-mail").fill(customer.email)
    page.get_by_role("button", name="Send the link").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".flash")).to_contain_text("If an account exists for that address")

    wait_for_reset_job(server, customer)
    page.goto(planted_reset_link(server, customer))
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    _check(page, server, axe_source, "password-reset", found)
    page.locator("input[name=password]").fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the new password").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".flash")).to_contain_text("Your password is changed.")

    page.get_by_label("E-mail").fill(customer.email)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="My tickets")).to_be_visible()

    page.goto("/password/reset?token=used-or-made-up")
    expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()
    _check(page, server, axe_source, "password-reset-invalid", found)
    _no_serious_problems(found)
    # The dead link answers 400 on purpose, which the browser logs as a failed resource.
    browsing.watch.errors[:] = [e for e in browsing.watch.errors if "used-or-made-up" not in e]


def test_the_portal_asks_an_unverified_customer_to_confirm(
    browsing: Browsing, server: Server, axe_source: str
) -> None:
    customer = server.customer()
    found: dict[str, Any] = {}
    page = browsing.page()
    sign_in(page, customer)
    banner = page.get_by_role("region", name="Confirm your e-mail address")
    expect(banner).to_contain_text(customer.email)
    _check(page, server, axe_source, "portal-verify-banner", found)

    banner.get_by_role("button", name="Send the link again").click()

    expect(page.locator(".flash")).to_contain_text(f"We sent a new link to {customer.email}")
    _no_serious_problems(found)
