"""Editing a reply in the desk, by keyboard, and reading its earlier version (issue 6 part 5)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import Browsing, Server, shoot
from tests.factories import make_message

SHOTS = Path("/tmp/shots")  # noqa: S108 - where the lead looks at the pictures


def test_edit_a_reply_and_open_its_revisions(browsing: Browsing, server: Server) -> None:
    team = server.department()
    customer = server.customer()
    agent = server.agent(team, name="Edith Editor")
    ticket = server.ticket(customer, team, title="Router keeps rebooting")
    message = make_message(server.db, agent, ticket.id, body="Please update the firmwre.")

    page = browsing.page(agent)
    page.goto(f"/desk/tickets/{ticket.id}")
    thread = page.get_by_role("region", name="Conversation")
    reply = thread.get_by_role("article", name="Message from Edith Editor")
    expect(reply).to_contain_text("Please update the firmwre.")
    expect(reply.get_by_role("link", name="edited")).to_have_count(0)

    # Keyboard only: focus the Edit summary, open it, type the new text, submit.
    summary = reply.locator("summary", has_text="Edit")
    summary.focus()
    page.keyboard.press("Enter")
    field = reply.get_by_label("New text of this message")
    expect(field).to_be_visible()
    field.fill("Please update the **firmware** to 2.4.")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "message-edit-form.png"), full_page=True, caret="initial")
    reply.get_by_role("button", name="Save changes").press("Enter")

    expect(page.locator(".flash")).to_contain_text("Message saved.")
    reply = page.get_by_role("region", name="Conversation").get_by_role(
        "article", name="Message from Edith Editor"
    )
    expect(reply.locator(".body strong")).to_have_text("firmware")
    marker = reply.get_by_role("link", name="edited")
    expect(marker).to_be_visible()
    page.screenshot(path=str(SHOTS / "message-edited.png"), full_page=True, caret="initial")
    shoot(page, server, "desk-message-edited")

    marker.click()
    page.wait_for_url(f"**/desk/tickets/{ticket.id}/messages/{message.id}/revisions")
    expect(page.get_by_role("heading", name="Earlier versions")).to_be_visible()
    versions = page.get_by_role("region", name="Versions")
    expect(versions.get_by_role("article")).to_have_count(2)
    expect(versions.get_by_role("article").nth(1)).to_contain_text("Please update the firmwre.")
    expect(versions.get_by_role("article").nth(1)).to_contain_text("written by Edith Editor")
    page.screenshot(path=str(SHOTS / "message-revisions.png"), full_page=True, caret="initial")
    shoot(page, server, "desk-message-revisions")
