"""Canned replies in the composer, by keyboard: `c` opens the picker, typing searches, the
preview shows the text rendered for this ticket, Enter inserts it at the cursor (issue 6 part 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import AXE_JS, Browsing, Server, shoot
from tests.browser.test_accessibility import RUN_AXE

SHOTS = Path("/tmp/shots")  # noqa: S108 - a copy for reviewers; tests/screenshots keeps the rest


def _serious(page: Page) -> list[Any]:
    """axe-core's serious findings; test_accessibility.py insists on axe, so this one need not."""
    if not AXE_JS.is_file():
        return []
    page.evaluate(AXE_JS.read_text() + "\n;undefined")
    violations: list[dict[str, Any]] = page.evaluate(RUN_AXE)
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def test_pick_preview_and_insert_a_canned_reply(browsing: Browsing, server: Server) -> None:
    team = server.department()
    customer = server.customer(name="Maria Garcia")
    agent = server.agent(team, name="Rita Picker")
    admin = server.admin()
    ticket = server.ticket(customer, team, title="Refund for order 77")
    server.api(
        admin,
        "POST",
        "/api/v1/canned-replies",
        {
            "title": "Refund issued",
            "category": "Billing",
            "shared": True,
            "body": "Hi {{customer.first_name}}, the refund for {{ticket.number}} is on its way."
            "{{settings.secret_key}}\n-- {{agent.name}}",
        },
    )
    server.api(agent, "POST", "/api/v1/canned-replies", {"title": "Closing words", "body": "Anything else?"})

    page = browsing.page(agent)
    page.goto(f"/desk/tickets/{ticket.id}")
    composer = page.get_by_role("textbox", name="Message", exact=True)
    composer.fill("Hello! ")
    page.locator("h1").click()  # leave the textarea: `c` is a shortcut, not a letter

    # c opens the picker with the search focused; Escape closes it and returns to the composer.
    page.keyboard.press("c")
    search = page.get_by_role("combobox", name="Insert a canned reply")
    expect(search).to_be_focused()
    expect(search).to_have_value("")
    options = page.get_by_role("listbox", name="Canned replies").get_by_role("option")
    expect(options).to_have_count(2)
    page.keyboard.press("Escape")
    expect(page.locator("#canned-popup")).to_be_hidden()
    expect(composer).to_be_focused()
    expect(composer).to_have_value("Hello! ")

    # Typing searches; the first match is chosen and previewed for this ticket.
    page.locator("h1").click()
    page.keyboard.press("c")
    search.press_sequentially("refund", delay=30)
    expect(options).to_have_count(1)
    expect(options.first).to_have_attribute("aria-selected", "true")
    preview = page.get_by_role("region", name="Preview for this ticket")
    rendered = f"Hi Maria, the refund for {ticket.number} is on its way.\n-- Rita Picker"
    expect(preview).to_have_text(rendered)
    expect(page.locator("[data-canned-status]")).to_contain_text("settings.secret_key")
    shoot(page, server, "desk-canned-picker")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "canned-picker.png"), full_page=True, caret="initial")
    assert _serious(page) == []

    # Arrow keys move through the list; Enter inserts at the cursor and counts one use.
    search.fill("")
    expect(options).to_have_count(2)
    page.keyboard.press("ArrowDown")
    expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    page.keyboard.press("ArrowUp")
    expect(options.nth(0)).to_have_attribute("aria-selected", "true")
    expect(options.nth(0)).to_contain_text("Closing words")  # both unused: by title
    page.keyboard.press("ArrowDown")
    expect(preview).to_have_text(rendered)
    page.keyboard.press("Enter")
    expect(page.locator("#canned-popup")).to_be_hidden()
    expect(composer).to_have_value("Hello! " + rendered)
    expect(composer).to_be_focused()
    expect(page).to_have_url(f"{server.url}/desk/tickets/{ticket.id}")  # Enter did not send the form

    # The management page shows the use, sorted by usage (the draft is dropped first: with words
    # in the composer, leaving the page asks).
    composer.fill("")
    page.goto("/desk/canned?sort=usage")
    rows = page.locator("tr[data-canned-row]")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Refund issued")
    expect(rows.first).to_contain_text("Unknown variables")
    expect(rows.first.locator("td.num")).to_have_text("1")
    shoot(page, server, "desk-canned-list")
    page.screenshot(path=str(SHOTS / "canned-list.png"), full_page=True, caret="initial")
    assert _serious(page) == []
