"""An agent watches a ticket with the `w` key, links it to its parent, and is told live when
someone else changes it (the per-user SSE channel, shown as a toast)."""

from __future__ import annotations

import shutil
from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import LIVE_MS, SCREENSHOTS, Browsing, Server, shoot, wait_live

SHOTS = Path("/tmp/shots")  # noqa: S108 - where the lead looks at the pictures


def test_watch_link_and_live_toast(browsing: Browsing, server: Server) -> None:
    team = server.department()
    customer = server.customer()
    alice = server.agent(team, name="Alice Watcher")
    bruno = server.agent(team, name="Bruno Changer")
    outage = server.ticket(customer, team, title="Outage in building B")
    printer = server.ticket(customer, team, title="Printer offline on floor 2")

    page = browsing.page(alice)
    page.goto(f"/desk/tickets/{printer.id}")
    watchers = page.locator("#watchers")
    expect(watchers).to_contain_text("Nobody watches this ticket.")

    # The keyboard shortcut toggles watching.
    page.locator("body").press("w")
    expect(page.locator(".flash")).to_have_text("You are watching this ticket.")
    expect(watchers).to_contain_text("Alice Watcher (you)")
    expect(watchers.get_by_role("button", name="Unwatch")).to_be_visible()

    # Link it as a child of the outage, by number.
    links = page.locator("#links")
    links.get_by_label("This ticket is").select_option("child")
    links.get_by_label("Ticket", exact=True).fill(outage.number)
    links.get_by_role("button", name="Link").click()
    expect(page.locator(".flash")).to_have_text(f"Linked: this ticket is child of {outage.number}.")
    expect(links).to_contain_text("Child of")
    expect(links.get_by_role("link", name=outage.number)).to_be_visible()

    # Alice keeps the desk list open; Bruno changes the watched ticket through the API.
    page.goto("/desk?view=watched")
    wait_live(page)
    expect(page.locator("tr[data-row]", has_text="Printer offline on floor 2")).to_have_count(1)
    server.api(bruno, "PUT", f"/api/v1/tickets/{printer.id}/status", {"status": "on_hold"})
    toast = page.locator("#watch-toasts .toast")
    expect(toast).to_contain_text(f"Watched ticket {printer.number}: status set to On hold", timeout=LIVE_MS)
    expect(page.locator("[data-watch-badge]")).to_have_text("1")
    shoot(page, server, "desk-watch-toast")

    page.goto(f"/desk/tickets/{printer.id}")
    expect(page.locator("#links")).to_contain_text(outage.number)
    shoot(page, server, "desk-watchers-links")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name in ("desk-watch-toast", "desk-watchers-links"):
        made = SCREENSHOTS / f"{name}.png"
        if made.exists():
            shutil.copyfile(made, SHOTS / made.name)
