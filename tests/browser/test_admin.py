"""The admin side, in a real browser: creating an agent who can then work the desk."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import expect

from tests.browser.conftest import Browsing, Server, shoot


def test_admin_creates_an_agent_who_can_then_sign_in(browsing: Browsing, server: Server) -> None:
    admin = server.admin()
    page = browsing.page(admin)
    page.goto("/admin")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    shoot(page, server, "admin-dashboard")

    email = f"new-agent-{uuid.uuid4().hex[:8]}@example.test"
    page.goto("/admin/users/new")
    page.get_by_label("Name").fill("Nadia New")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Role").select_option("agent")
    page.get_by_label("Password").fill("a-strong-password")
    page.get_by_label("Technical").check()
    shoot(page, server, "admin-user-new")
    page.get_by_role("button", name="Create user").click()
    expect(page.locator(".flash")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Nadia New")

    # The new agent signs in through the form and lands on the desk.
    agent_page = browsing.page()
    agent_page.goto("/login")
    agent_page.get_by_label("E-mail").fill(email)
    agent_page.get_by_label("Password").fill("a-strong-password")
    agent_page.get_by_role("button", name="Sign in").click()
    expect(agent_page).to_have_url(re.compile(r"/desk"))
    expect(agent_page.locator(".account")).to_contain_text("Nadia New")
