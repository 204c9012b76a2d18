"""Two agents on one ticket: the collision warning, and changes arriving live over SSE."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.conftest import LIVE_MS, Browsing, Server, shoot, wait_live


def test_collision_warning_and_live_refresh_between_agents(browsing: Browsing, server: Server) -> None:
    team = server.department()
    customer = server.customer()
    alice = server.agent(team, name="Alice Anders")
    bruno = server.agent(team, name="Bruno Berg")
    ticket = server.ticket(customer, team, title="VPN drops every hour")

    first = browsing.page(alice)
    first.goto(f"/desk/tickets/{ticket.id}")
    wait_live(first)
    first.evaluate("window.__noReload = true")
    collision = first.locator("#collision")
    expect(collision).to_be_hidden()

    second = browsing.page(bruno)
    second.goto(f"/desk/tickets/{ticket.id}")
    wait_live(second)
    # Bruno sees that Alice is here.
    expect(second.locator("#collision")).to_contain_text("Alice Anders", timeout=LIVE_MS)

    # Bruno starts typing: Alice is warned, by name, without reloading.
    composer = second.get_by_role("textbox", name="Message", exact=True)
    composer.click()
    composer.press_sequentially("Looking into the VPN logs", delay=10)
    expect(collision).to_be_visible(timeout=LIVE_MS)
    expect(collision).to_contain_text("Bruno Berg", timeout=LIVE_MS)
    expect(collision).to_contain_text("typing", timeout=LIVE_MS)
    shoot(first, server, "desk-collision")

    # Bruno posts it as a note: Alice's thread and history show it live.
    second.get_by_label("Internal note").check()
    second.get_by_role("button", name="Add note").click()
    expect(second.locator(".flash")).to_have_text("Note added.")
    expect(first.locator("#thread")).to_contain_text("Looking into the VPN logs", timeout=LIVE_MS)
    expect(first.locator("#history")).to_contain_text("wrote an internal note", timeout=LIVE_MS)

    # A status change by Bruno reaches Alice's header and controls.
    second.get_by_label("Move to").select_option("on_hold")
    second.get_by_role("button", name="Change status").click()
    expect(second.locator(".flash")).to_have_text("Status changed to on hold.")
    expect(first.locator("#ticket-head")).to_contain_text("On hold", timeout=LIVE_MS)
    assert first.evaluate("window.__noReload === true"), "the page reloaded instead of refreshing live"


def test_desk_list_counts_and_rows_refresh_live(browsing: Browsing, server: Server) -> None:
    team = server.department()
    customer = server.customer()
    agent = server.agent(team)

    desk = browsing.page(agent)
    desk.goto("/desk?view=queue")
    wait_live(desk)
    desk.evaluate("window.__noReload = true")
    expect(desk.locator("#results")).to_contain_text("0 tickets")

    # A ticket arrives through the API (another client of the same server).
    server.api(
        customer,
        "POST",
        "/api/v1/tickets",
        {"title": "Arrived while you were looking", "description": "Hello", "department": team},
    )
    expect(desk.locator("tr[data-row]", has_text="Arrived while you were looking")).to_have_count(
        1, timeout=LIVE_MS
    )
    expect(desk.locator("#sidebar a[aria-current=page] .count")).to_have_text("1", timeout=LIVE_MS)
    assert desk.evaluate("window.__noReload === true")
