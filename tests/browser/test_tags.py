"""An agent tags a ticket from the suggestions, sees the tag in its colour, and filters the desk
list by it."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import Browsing, Server, shoot


def test_tag_a_ticket_and_filter_by_it(browsing: Browsing, server: Server) -> None:
    team = server.department()
    customer = server.customer()
    admin = server.admin()
    agent = server.agent(team, name="Tess Tagger")
    printer = server.ticket(customer, team, title="Printer jams on tray 2")
    server.ticket(customer, team, title="Monitor flickers")
    server.api(admin, "POST", "/api/v1/tags", {"name": "hardware", "color": "#dc2626"})

    page = browsing.page(agent)
    page.goto(f"/desk/tickets/{printer.id}")
    tags = page.locator("#tags")
    tags.get_by_label("Add a tag").fill("hardware")
    tags.get_by_role("button", name="Add").click()
    expect(page.locator(".flash")).to_have_text("Tag “hardware” added.")
    chip = page.locator("#tags .tag", has_text="hardware")
    expect(chip).to_have_css("border-left-color", "rgb(220, 38, 38)")  # its colour, from /desk/tags.css
    shoot(page, server, "desk-ticket-tags")

    chip.get_by_role("link", name="hardware").click()
    expect(page.locator("#results tr[data-row]")).to_have_count(1)
    expect(page.locator("#results")).to_contain_text("Printer jams on tray 2")
    expect(page.locator("#tag-filter summary")).to_contain_text("(1)")
    shoot(page, server, "desk-list-tag-filter")

    tags_remove = page.goto(f"/desk/tickets/{printer.id}")
    assert tags_remove is not None
    page.get_by_role("button", name="Remove tag hardware").click()
    expect(page.locator(".flash")).to_have_text("Tag “hardware” removed.")
    expect(page.locator("#tags")).to_contain_text("No tags.")
