"""The main path in a real browser: a customer asks, an agent works the ticket, the customer
follows along live, closes and reopens."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import LIVE_MS, Browsing, Server, shoot, wait_live


def _ticket_id(page: Page) -> int:
    match = re.search(r"/tickets/(\d+)", page.url)
    assert match, page.url
    return int(match.group(1))


def _mark_no_reload(page: Page) -> None:
    page.evaluate("window.__noReload = true")


def _assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__noReload === true"), "the page reloaded instead of refreshing live"


def test_customer_and_agent_work_a_ticket(browsing: Browsing, server: Server) -> None:
    team = server.department()
    customer = server.customer(name="Carla Customer")
    agent = server.agent(team, name="Arnold Agent")
    subject = "Printer prints only blank pages"
    note = "Internal: the toner model was recalled last week"
    answer = "Please replace the toner cartridge and try again."

    # The customer opens a ticket through the portal form.
    portal = browsing.page(customer)
    expect(portal).to_have_url(re.compile(r"/$"))
    portal.get_by_role("link", name="New ticket").first.click()
    expect(portal.get_by_role("heading", name="Open a ticket")).to_be_visible()
    portal.get_by_label("Subject").fill(subject)
    portal.get_by_label("Department").select_option(team)
    portal.get_by_label("Description").fill("Since Monday every page comes out **blank**.")
    expect(portal.locator("#preview strong")).to_have_text("blank")  # the live Markdown preview
    portal.get_by_role("button", name="Open ticket").click()
    expect(portal.locator(".flash")).to_contain_text("is open")
    expect(portal.get_by_role("heading", level=1)).to_have_text(subject)
    ticket_id = _ticket_id(portal)

    # ...and adds a reply.
    portal.get_by_label("Your reply").fill("It also makes a grinding noise.")
    portal.get_by_role("button", name="Send reply").click()
    expect(portal.locator(".flash")).to_contain_text("Your reply was sent.")
    expect(portal.locator("#thread")).to_contain_text("grinding noise")
    shoot(portal, server, "portal-ticket")

    # The agent finds it in their queue.
    desk = browsing.page(agent)
    desk.goto("/desk?view=queue")
    row = desk.locator("tr[data-row]", has_text=subject)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Carla Customer")
    shoot(desk, server, "desk-queue")
    row.get_by_role("link").click()
    expect(desk).to_have_url(re.compile(rf"/desk/tickets/{ticket_id}$"))
    expect(desk.locator("#thread")).to_contain_text("grinding noise")

    # The customer keeps their page open from here on: what the agent does appears live.
    portal.goto(f"/tickets/{ticket_id}")
    wait_live(portal)
    _mark_no_reload(portal)

    desk.get_by_role("button", name="Assign to me").click()
    expect(desk.locator(".flash")).to_have_text("Ticket assigned.")
    side = desk.locator("#side")
    expect(side).to_contain_text("Arnold Agent")
    expect(desk.locator("#ticket-head .badge").first).to_have_text("In progress")  # automatic
    expect(portal.locator("#ticket-head")).to_contain_text("In progress", timeout=LIVE_MS)

    # An internal note: staff only.
    desk.get_by_label("Internal note").check()
    expect(desk.locator(".composer")).to_have_class(re.compile(r"note-mode"))
    desk.get_by_role("textbox", name="Message", exact=True).fill(note)
    desk.get_by_role("button", name="Add note").click()
    expect(desk.locator(".flash")).to_have_text("Note added.")
    expect(desk.locator("#thread .message.note")).to_contain_text(note)

    # A public reply, then a status change.
    desk.get_by_label("Public reply").check()
    desk.get_by_role("textbox", name="Message", exact=True).fill(answer)
    desk.get_by_role("button", name="Send").click()
    expect(desk.locator(".flash")).to_have_text("Reply sent.")
    expect(desk.locator("#thread .message.staff")).to_contain_text(answer)

    # The customer's open page shows the reply without a reload, and never the note.
    expect(portal.locator("#thread")).to_contain_text(answer, timeout=LIVE_MS)
    _assert_not_reloaded(portal)

    desk.get_by_label("Move to").select_option("resolved")
    desk.get_by_label("Reason").fill("Toner replaced")
    desk.get_by_role("button", name="Change status").click()
    expect(desk.locator(".flash")).to_have_text("Status changed to resolved.")
    expect(desk.locator("#ticket-head .badge").first).to_have_text("Resolved")
    history = desk.locator("#history")
    expect(history).to_contain_text("wrote an internal note")
    expect(history).to_contain_text("Toner replaced")
    shoot(desk, server, "desk-ticket")

    expect(portal.locator("#ticket-head")).to_contain_text("Resolved", timeout=LIVE_MS)
    _assert_not_reloaded(portal)
    assert note not in portal.content()

    # After a reload too: the reply, the status; not the note, not the assignee, not history.
    portal.reload()
    page_text = portal.locator("body").inner_text()
    assert answer in page_text
    assert note not in page_text
    assert "recalled" not in portal.content()
    assert "Internal note" not in page_text
    assert "Toner replaced" not in page_text  # a status reason is staff-only
    expect(portal.locator("#ticket-head")).to_contain_text("Resolved")

    # The customer closes the ticket, then reopens it.
    portal.get_by_role("button", name="Close ticket").click()
    expect(portal.locator(".flash")).to_contain_text("The ticket is closed.")
    expect(portal.locator("#ticket-head .badge").first).to_have_text("Closed")
    expect(portal.get_by_label("Your reply")).to_have_count(0)
    expect(portal.get_by_text("This ticket is closed.")).to_be_visible()
    portal.get_by_role("button", name="Reopen ticket").click()
    expect(portal.locator(".flash")).to_have_text("The ticket is open again.")
    expect(portal.locator("#ticket-head .badge").first).to_have_text("Open")
    expect(portal.get_by_label("Your reply")).to_be_visible()

    # Their list shows it under "Open" again.
    portal.goto("/")
    expect(portal.locator(".ticket-card", has_text=subject)).to_contain_text("Open")
    shoot(portal, server, "portal-list")


def test_portal_search_and_navigation(browsing: Browsing, server: Server) -> None:
    team = server.department()
    customer = server.customer()
    server.ticket(customer, team, title="Invoice shows the wrong address")
    wanted = server.ticket(customer, team, title="Password reset mail never arrives")

    portal = browsing.page(customer)
    cards = portal.locator(".ticket-card")
    expect(cards).to_have_count(2)
    portal.get_by_label("Search my tickets").fill("password")
    expect(cards).to_have_count(1)
    expect(portal.locator("#results")).to_have_count(1)  # swapped, not nested
    expect(portal).to_have_url(re.compile(r"q=password"))

    # Links are boosted (htmx swaps the body): each one must still bring a whole page.
    cards.first.click()
    expect(portal).to_have_url(re.compile(rf"/tickets/{wanted.id}$"))
    expect(portal.get_by_role("heading", level=1)).to_have_text(wanted.title)
    portal.get_by_role("main").get_by_role("link", name="My tickets").click()
    expect(portal).to_have_url(re.compile(r"/$"))
    expect(portal.get_by_role("heading", name="My tickets")).to_be_visible()
    expect(portal.get_by_role("navigation", name="Main")).to_be_visible()
    expect(cards).to_have_count(2)
    portal.get_by_role("tab", name="Closed").click()
    expect(portal.locator(".empty")).to_contain_text("No closed tickets yet.")
    expect(portal.get_by_role("navigation", name="Main")).to_be_visible()
