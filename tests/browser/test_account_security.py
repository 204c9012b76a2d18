"""The account's security page and signing up, clicked through in a real browser (issue 12 items
5 and 7): where one is signed in, signing another browser out, API tokens with a scope and a
lifetime, "sign out everywhere"; signing up with only an address and finishing from the link."""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from typing import Any

from playwright.sync_api import expect
from sqlalchemy import select, update

from tests.browser.conftest import Browsing, Server
from tests.browser.test_accessibility import _check
from tests.browser.test_account_mail import _no_serious_problems
from ticketry.auth.models import Signup

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Safari/604.1"
)


def test_sessions_tokens_and_signing_out_everywhere(
    browsing: Browsing, server: Server, axe_source: str
) -> None:
    customer = server.customer()
    found: dict[str, Any] = {}
    phone_context = browsing.browser.new_context(base_url=server.url, user_agent=IPHONE)
    browsing.contexts.append(phone_context)
    phone = browsing.page(customer, context=phone_context)
    page = browsing.page(customer)

    page.get_by_role("link", name="Security").click()
    expect(page.get_by_role("heading", name="Password and security")).to_be_visible()
    sessions = page.locator("#sessions tbody tr")
    expect(sessions).to_have_count(2)
    expect(sessions.filter(has_text="This browser")).to_have_count(1)
    expect(sessions.filter(has_text="Safari on iPhone")).to_have_count(1)

    # A read-only token, shown once, that reads but cannot write.
    page.get_by_label("Name", exact=True).fill("dashboard")
    page.get_by_label("Read only").check()
    page.get_by_label("Expires").select_option(label="30 days")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("heading", name="Your new token “dashboard”")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/account/security$"))
    secret = page.get_by_label("Token", exact=True).input_value()
    assert secret.startswith("tkt_")
    row = page.locator("#tokens tbody tr", has_text="dashboard")
    expect(row).to_contain_text("Read only")
    _check(page, server, axe_source, "account-security", found)
    api = page.context.request
    auth = {"Authorization": f"Bearer {secret}"}
    assert api.get(f"{server.url}/api/v1/users/me", headers=auth).status == 200
    refused = api.post(f"{server.url}/api/v1/tickets", headers=auth, data={"title": "x", "description": "y"})
    assert refused.status == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"

    # Sign the phone out from here.
    page.get_by_role("button", name=re.compile(r"^Sign out Safari on iPhone")).click()
    expect(page.locator(".flash")).to_have_text("That browser is signed out.")
    expect(sessions).to_have_count(1)
    phone.reload()
    expect(phone).to_have_url(re.compile(r"/login"))

    # Revoke the token with its button.
    page.locator("#tokens tbody tr", has_text="dashboard").get_by_role(
        "button", name="Revoke dashboard"
    ).click()
    expect(page.locator(".flash")).to_have_text("The token is revoked: it stopped working.")
    assert api.get(f"{server.url}/api/v1/users/me", headers=auth).status == 401

    # Everywhere: this browser too, and every token.
    page.get_by_role("button", name="Sign out everywhere").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(".flash")).to_contain_text("You are signed out everywhere")
    assert api.get(f"{server.url}/api/v1/users/me", headers=customer.headers).status == 401
    page.goto("/account/security")
    expect(page).to_have_url(re.compile(r"/login\?next=/account/security$"))
    _no_serious_problems(found)
    # The revoked token answers 401 on purpose, which the browser may log.
    browsing.watch.errors[:] = [e for e in browsing.watch.errors if "401" not in e]


def test_changing_the_password_keeps_this_browser_and_ends_the_others(
    browsing: Browsing, server: Server
) -> None:
    customer = server.customer()
    other = browsing.page(customer)
    page = browsing.page(customer)
    page.goto("/account/security")

    page.get_by_label("Current password").fill("correct horse battery staple")
    page.get_by_label("New password", exact=True).fill("a brand new passphrase")
    page.get_by_label("New password again").fill("a brand new passphrase")
    page.get_by_role("button", name="Change password").click()

    expect(page.locator(".flash")).to_contain_text(
        "Other browsers were signed out and your API tokens revoked"
    )
    expect(page.locator("#sessions tbody tr")).to_have_count(1)
    other.reload()
    expect(other).to_have_url(re.compile(r"/login"))
    assert page.context.request.get(f"{server.url}/api/v1/users/me", headers=customer.headers).status == 401


def finish_link(server: Server, email: str) -> str:
    """What the sign-up mail would carry (the server under test has no SMTP server to send it):
    once the server's worker has handled the sign-up, its link is replaced by one we know."""
    secret = secrets.token_urlsafe(32)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with server.db.unit_of_work() as session:
            handled = session.scalar(
                select(Signup.id).where(Signup.email == email, Signup.mailed_at.is_not(None))
            )
            if handled is not None:
                session.execute(
                    update(Signup)
                    .where(Signup.id == handled)
                    .values(token_hash=hashlib.sha256(secret.encode()).hexdigest())
                )
                return f"/signup/finish?token={secret}"
        time.sleep(0.1)
    raise AssertionError("the server's worker never handled the sign-up")


def test_signing_up_with_an_address_then_finishing_from_the_link(
    browsing: Browsing, server: Server, axe_source: str
) -> None:
    email = f"newcomer-{secrets.token_hex(4)}@example.test"
    found: dict[str, Any] = {}
    page = browsing.page()
    page.goto("/login")

    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", name="Create an account")).to_be_visible()
    _check(page, server, axe_source, "signup", found)
    page.get_by_label("E-mail").fill(email)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    _check(page, server, axe_source, "signup-sent", found)

    page.goto(finish_link(server, email))
    expect(page.get_by_role("heading", name="Finish creating your account")).to_be_visible()
    expect(page.locator("main")).to_contain_text(email)
    _check(page, server, axe_source, "signup-finish", found)
    page.get_by_label("Your name").fill("Nora Newcomer")
    page.locator("input[name=password]").fill("long enough pw")
    page.get_by_label("Password again").fill("long enough pw")
    page.get_by_role("button", name="Create my account").click()

    expect(page.get_by_role("heading", name="My tickets")).to_be_visible()
    expect(page.locator(".flash")).to_have_text("Welcome! Your account is ready.")
    expect(page.get_by_role("region", name="Confirm your e-mail address")).to_have_count(0)
    page.get_by_role("button", name="Sign out").click()
    sign_in_page = browsing.page()
    sign_in_page.goto("/login")
    sign_in_page.get_by_label("E-mail").fill(email)
    sign_in_page.get_by_label("Password").fill("long enough pw")
    sign_in_page.get_by_role("button", name="Sign in").click()
    expect(sign_in_page.get_by_role("heading", name="My tickets")).to_be_visible()
    _no_serious_problems(found)
