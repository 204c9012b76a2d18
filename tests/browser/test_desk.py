"""The desk for people who live in it: keyboard shortcuts and bulk updates."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import Browsing, Server, shoot


def _selected_rows(page: Page) -> list[int]:
    result: list[int] = page.evaluate(
        "() => Array.from(document.querySelectorAll('tr[data-row]'))"
        ".flatMap((row, i) => row.classList.contains('selected') ? [i] : [])"
    )
    return result


def test_keyboard_shortcuts(browsing: Browsing, server: Server) -> None:
    team = server.department()
    customer = server.customer()
    agent = server.agent(team)
    for title in ("Keyboard one", "Keyboard two", "Keyboard three"):
        server.ticket(customer, team, title=title)

    page = browsing.page(agent)
    page.goto("/desk?view=queue")
    rows = page.locator("tr[data-row]")
    expect(rows).to_have_count(3)
    dialog = page.locator("dialog#shortcuts")

    # ? opens the help.
    page.keyboard.press("?")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Keyboard shortcuts")
    shoot(page, server, "desk-shortcuts")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()

    # j / k move the selection.
    assert _selected_rows(page) == []
    page.keyboard.press("j")
    assert _selected_rows(page) == [0]
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert _selected_rows(page) == [2]
    page.keyboard.press("j")  # stays on the last row
    assert _selected_rows(page) == [2]
    page.keyboard.press("k")
    assert _selected_rows(page) == [1]
    expect(rows.nth(1)).to_have_class(re.compile(r"\bselected\b"))

    # / focuses the search; while typing there no shortcut fires.
    page.keyboard.press("/")
    search = page.locator("[data-search]")
    expect(search).to_be_focused()
    expect(search).to_have_value("")  # the slash itself is not typed
    search.press_sequentially("jk?", delay=20)
    expect(search).to_have_value("jk?")
    expect(dialog).to_be_hidden()
    assert _selected_rows(page) == [1]
    expect(rows).to_have_count(0)  # the live search found nothing (and did not fail)
    search.fill("")
    expect(rows).to_have_count(3)  # ...and brings the rows back, with nothing selected
    assert _selected_rows(page) == []

    # Enter opens the selected ticket.
    page.locator("h1").click()  # leave the search box, as a mouse user would
    page.keyboard.press("Enter")  # nothing selected: nothing happens
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert _selected_rows(page) == [1]
    href = rows.nth(1).get_attribute("data-href")
    assert href
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(re.escape(href) + "$"))
    page.wait_for_load_state()  # the shortcuts are bound once the page's script has run

    # r: the composer, in reply mode; typing there is just typing.
    composer = page.get_by_role("textbox", name="Message", exact=True)
    expect(composer).not_to_be_focused()
    page.keyboard.press("r")
    expect(composer).to_be_focused()
    expect(page.get_by_label("Public reply")).to_be_checked()
    page.keyboard.type("n/j?")
    expect(composer).to_have_value("n/j?")
    expect(page.get_by_label("Public reply")).to_be_checked()
    expect(page.locator("dialog#shortcuts")).to_be_hidden()

    # n: the same composer, switched to an internal note.
    page.locator("h1").click()
    page.keyboard.press("n")
    expect(composer).to_be_focused()
    expect(page.get_by_label("Internal note")).to_be_checked()
    expect(page.locator(".composer")).to_have_class(re.compile(r"\bnote-mode\b"))
    expect(page.locator("[data-submit-label]")).to_have_text("Add note")

    # ? works on the ticket page too.
    page.locator("h1").click()
    page.keyboard.press("?")
    expect(page.locator("dialog#shortcuts")).to_be_visible()
    page.get_by_role("button", name="Close").click()
    expect(page.locator("dialog#shortcuts")).to_be_hidden()


def test_bulk_update_reports_each_ticket(browsing: Browsing, server: Server) -> None:
    team = server.department()
    customer = server.customer(name="Bulk Customer")
    admin = server.admin()
    movable = [server.ticket(customer, team, title=f"Bulk movable {n}") for n in (1, 2)]
    stuck = server.ticket(customer, team, title="Bulk already closed")
    with server.db.unit_of_work() as session:
        from ticketry.tickets import service as ticket_service

        ticket_service.close_ticket(session, customer.actor, stuck.id)

    page = browsing.page(admin)
    page.goto(f"/desk?view=all&customer={customer.id}")
    rows = page.locator("tr[data-row]")
    expect(rows).to_have_count(3)
    page.get_by_label("Select all").check()
    for n in range(3):
        expect(rows.nth(n).locator("input[name=ticket_ids]")).to_be_checked()
    bulk = page.locator("fieldset.bulk-bar")
    bulk.get_by_label("Status").select_option("on_hold")
    bulk.get_by_label("Priority").select_option("high")
    bulk.get_by_role("button", name="Update selected").click()

    flash = page.locator(".flash")
    expect(flash).to_contain_text("Updated 2 of 3 tickets.")
    # The one that could not move is named, with the reason.
    expect(flash).to_contain_text(stuck.number)
    expect(flash).to_contain_text("closed")
    for ticket in movable:
        expect(flash).not_to_contain_text(ticket.number)
    shoot(page, server, "desk-bulk")

    # The list shows the outcome.
    for ticket in movable:
        row = rows.filter(has_text=ticket.title)
        expect(row).to_contain_text("On hold")
        expect(row).to_contain_text("High")
    expect(rows.filter(has_text="Bulk already closed")).to_contain_text("Closed")
    expect(rows.filter(has_text="Bulk already closed")).to_contain_text("Medium")  # all or nothing


def test_filters_search_and_pages_swap_only_the_results(browsing: Browsing, server: Server) -> None:
    from ticketry.tickets.models import Priority

    team = server.department()
    customer = server.customer()
    agent = server.agent(team)
    for n in range(26):
        server.ticket(customer, team, title=f"Paged ticket {n:02d}")
    server.ticket(customer, team, title="Urgent outage", priority=Priority.URGENT)

    page = browsing.page(agent)
    page.goto("/desk?view=queue")
    rows = page.locator("tr[data-row]")
    expect(rows).to_have_count(25)
    expect(page.locator(".result-count")).to_have_text("27 tickets")

    # The pager swaps the results in place (no nested copies) and keeps the URL shareable.
    page.get_by_role("link", name="Next →").click()
    expect(page).to_have_url(re.compile(r"page=2"))
    expect(rows).to_have_count(2)
    expect(page.locator("#results")).to_have_count(1)
    expect(page.locator("#sidebar")).to_be_visible()
    page.get_by_role("link", name="← Previous").click()
    expect(rows).to_have_count(25)

    # A filter (its "Any" siblings are sent empty) and the search box narrow the list.
    page.locator("#filters select[name=priority]").select_option("urgent")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Urgent outage")
    page.locator("#filters select[name=priority]").select_option("")
    expect(rows).to_have_count(25)
    page.locator("[data-search]").fill("outage")
    expect(rows).to_have_count(1)
    expect(page.locator("#results")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=outage"))
    shoot(page, server, "desk-search")

    # Without JavaScript's help (a plain GET of the same form), the same answer.
    page.goto(page.url)
    expect(rows).to_have_count(1)
