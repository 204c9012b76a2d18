"""Merge a duplicate from the desk, see the banner on the duplicate, unmerge (issue 6 part 6)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import Browsing, Server, shoot

SHOTS = Path("/tmp/shots")  # noqa: S108 - where the lead collects screenshots


def test_merge_banner_and_unmerge(browsing: Browsing, server: Server) -> None:
    team = server.department()
    customer = server.customer(name="Merge Customer")
    agent = server.agent(team)
    primary = server.ticket(customer, team, title="Wifi drops every hour")
    duplicate = server.ticket(customer, team, title="Wifi keeps dropping", description="Every hour or so.")

    page = browsing.page(agent)
    page.goto(f"/desk/tickets/{primary.id}")
    card = page.locator("#merge-card")
    card.get_by_text("Merge duplicates into this ticket").click()
    card.get_by_label("Duplicate tickets").fill(duplicate.number)
    card.get_by_label(f"Yes, merge them into {primary.number}").check()
    card.get_by_role("button", name="Merge").click()
    expect(page.locator(".flash")).to_contain_text(f"Merged {duplicate.number} into this ticket.")
    expect(page.locator("#thread")).to_contain_text(f"Merged from {duplicate.number}: Wifi keeps dropping")
    expect(card).to_contain_text(f"{duplicate.number} merged in")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"merge-primary-{server.backend}.png"), full_page=True, caret="initial")
    shoot(page, server, "desk-merge")

    card.locator(".merges").get_by_role("link", name=duplicate.number).click()
    banner = page.locator("#merged-banner")
    expect(banner).to_contain_text(f"Merged into {primary.number}")
    page.screenshot(path=str(SHOTS / f"merge-banner-{server.backend}.png"), full_page=True, caret="initial")

    page.locator("#merge-card").get_by_role("button", name=f"Unmerge {duplicate.number}").click()
    expect(page.locator(".flash")).to_contain_text("is back as it was")
    expect(page.locator("#merged-banner")).to_have_count(0)
    expect(page.locator("#merge-card")).to_contain_text("undone")
    page.goto(f"/desk/tickets/{primary.id}")
    expect(page.locator("#thread")).not_to_contain_text("Merged from")


def test_merging_another_customers_ticket_asks_a_second_time(browsing: Browsing, server: Server) -> None:
    """Issue 12 item 8: each customer would read the other's messages; the desk says so and asks."""
    team = server.department()
    alice, bob = server.customer(name="Alice Merge"), server.customer(name="Bob Merge")
    agent = server.agent(team)
    primary = server.ticket(alice, team, title="Printer jams")
    other = server.ticket(bob, team, title="Printer jams too")

    page = browsing.page(agent)
    page.goto(f"/desk/tickets/{primary.id}")
    card = page.locator("#merge-card")
    card.get_by_text("Merge duplicates into this ticket").click()
    card.get_by_label("Duplicate tickets").fill(other.number)
    card.get_by_label(f"Yes, merge them into {primary.number}").check()
    card.get_by_role("button", name="Merge").click()
    expect(page.locator(".flash")).to_contain_text("belongs to another customer")
    card = page.locator("#merge-card")
    expect(card.locator("#merge-customers-warning")).to_contain_text("Alice Merge")
    expect(card.get_by_label("Duplicate tickets")).to_have_value(other.number)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(
        path=str(SHOTS / f"merge-customers-{server.backend}.png"), full_page=True, caret="initial"
    )
    card.get_by_label("Yes, let both customers see each other's messages").check()
    card.get_by_label(f"Yes, merge them into {primary.number}").check()
    card.get_by_role("button", name="Merge").click()
    expect(page.locator(".flash")).to_contain_text(f"Merged {other.number} into this ticket.")
