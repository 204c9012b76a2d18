"""An agent filters the desk list, saves the filter as a view, and opens it from the sidebar,
where its count stays live as tickets change."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import LIVE_MS, Browsing, Server, shoot, wait_live
from ticketry.tickets.models import Priority


def test_save_a_filter_and_open_it_from_the_sidebar(browsing: Browsing, server: Server) -> None:
    team = server.department()
    customer = server.customer()
    agent = server.agent(team, name="Vera Views")
    server.ticket(customer, team, title="Router down in lobby", priority=Priority.URGENT)
    server.ticket(customer, team, title="Mouse squeaks", priority=Priority.LOW)

    page = browsing.page(agent)
    page.goto(f"/desk?view=all&department={team}")
    page.locator("#filters select[name=priority]").select_option("urgent")
    results = page.locator("#results")
    expect(results.locator("tr[data-row]")).to_have_count(1)
    expect(results).to_contain_text("Router down in lobby")

    page.locator("#save-view summary").click()
    page.get_by_label("Name of the view").fill("Urgent in my team")
    page.get_by_role("button", name="Save this filter").click()
    expect(page.locator(".flash")).to_have_text("View “Urgent in my team” saved.")
    expect(page.locator("#list-title")).to_have_text("Urgent in my team")
    entry = page.locator("#sidebar a", has_text="Urgent in my team")
    expect(entry).to_have_attribute("aria-current", "page")
    expect(entry.locator(".count")).to_have_text("1")

    # Elsewhere in the desk, the view waits in the sidebar, and its count follows the tickets.
    page.goto("/desk?view=all")
    wait_live(page)
    second = server.api(
        agent,
        "POST",
        "/api/v1/tickets",
        {
            "title": "Second router down",
            "description": "Floor 3 too.",
            "department": team,
            "priority": "urgent",
            "customerId": customer.id,
        },
    )
    expect(page.locator("#sidebar a", has_text="Urgent in my team").locator(".count")).to_have_text(
        "2", timeout=LIVE_MS
    )
    page.locator("#sidebar a", has_text="Urgent in my team").click()
    expect(page.locator("#list-title")).to_have_text("Urgent in my team")
    expect(page.locator("#results tr[data-row]")).to_have_count(2)
    expect(page.locator("#results")).to_contain_text(second["title"])
    shoot(page, server, "desk-saved-view")

    page.goto("/desk/views")
    expect(page.get_by_role("link", name="Urgent in my team")).to_be_visible()
    shoot(page, server, "desk-views-manage")
