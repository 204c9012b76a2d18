"""The desk as a new agent uses it with a mouse (issue 14 part D): each defect a walk through the
desk found, clicked the way a person clicks, at a desktop size and at a phone size.

Pages are also kept as screenshots (tests/screenshots/, `<name>-<size>.png`) for people to look at.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Dialog, Locator, Page, ViewportSize, expect

from tests.browser.conftest import (
    LIVE_MS,
    TIMEOUT_MS,
    Browsing,
    Server,
    _free_port,
    _ticketry_command,
    _wait_until_healthy,
    shoot,
    wait_live,
)
from tests.browser.test_accessibility import RUN_AXE
from tests.factories import PASSWORD, Persona, make_message
from ticketry.tickets.models import Priority, Ticket

SIZES: dict[str, ViewportSize] = {
    "desktop": {"width": 1280, "height": 800},
    "phone": {"width": 390, "height": 844},
}
# A click waits while something else covers the element's centre: a few seconds tell enough.
CLICK_MS = 4_000


@pytest.fixture(params=list(SIZES))
def size(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def open_page(
    browsing: Browsing, size: str, persona: Persona | None = None, *, server: Server | None = None
) -> Page:
    """A page in a fresh browser context of the given size, watched like every other."""
    url = (server or browsing.server).url
    context = browsing.browser.new_context(base_url=url, viewport=SIZES[size])
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    browsing.contexts.append(context)
    return browsing.page(persona, context=context)


def answer_dialogs(page: Page, browsing: Browsing, answer: Callable[[Dialog], bool]) -> list[str]:
    """Take over the page's dialogs from the watch (which fails a test on any dialog): each is
    recorded and accepted when `answer` says so, dismissed otherwise."""
    page.remove_listener("dialog", browsing.watch.dialog)
    seen: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        seen.append(dialog.type)
        if answer(dialog):
            dialog.accept()
        else:
            dialog.dismiss()

    page.on("dialog", on_dialog)
    return seen


def composer_of(page: Page) -> Locator:
    return page.get_by_role("textbox", name="Message", exact=True)


def flash(page: Page) -> Locator:
    return page.locator(".flash")


# --- 1. the canned-reply button ----------------------------------------------------------------


def test_canned_reply_button_opens_the_picker_and_keeps_the_draft(
    browsing: Browsing, server: Server, size: str
) -> None:
    team = server.department()
    customer = server.customer(name="Nora Draft")
    agent = server.agent(team)
    ticket = server.ticket(customer, team, title="Parcel never arrived")
    server.api(
        agent,
        "POST",
        "/api/v1/canned-replies",
        {"title": "Thanks for waiting", "body": "Thanks for waiting, {{customer.first_name}}."},
    )

    page = open_page(browsing, size, agent)
    page.goto(f"/desk/tickets/{ticket.id}")
    composer = composer_of(page)
    composer.click()
    page.keyboard.type("Hello! ")

    page.get_by_role("button", name="Canned reply").click()
    expect(page.get_by_role("dialog", name="Insert a canned reply")).to_be_visible()
    expect(page).to_have_url(f"{server.url}/desk/tickets/{ticket.id}")
    # The server is shared by the session's browser tests: other tests' team-wide replies show too.
    option = page.get_by_role("listbox", name="Canned replies").get_by_role(
        "option", name="Thanks for waiting"
    )
    expect(option).to_have_count(1)
    shoot(page, server, f"mouse-canned-picker-{size}")
    option.click()

    expect(page.get_by_role("dialog", name="Insert a canned reply")).to_be_hidden()
    expect(composer).to_have_value("Hello! Thanks for waiting, Nora.")
    expect(page).to_have_url(f"{server.url}/desk/tickets/{ticket.id}")


# --- 2. a draft is not lost by leaving --------------------------------------------------------


def test_leaving_a_ticket_with_an_unsent_draft_asks_first(
    browsing: Browsing, server: Server, size: str
) -> None:
    team = server.department()
    customer = server.customer()
    agent = server.agent(team)
    ticket = server.ticket(customer, team, title="Invoice shows the wrong address")
    ticket_url = f"{server.url}/desk/tickets/{ticket.id}"

    page = open_page(browsing, size, agent)
    page.goto(f"/desk/tickets/{ticket.id}")
    leave = {"answer": False}
    asked = answer_dialogs(page, browsing, lambda dialog: leave["answer"])
    composer = composer_of(page)
    composer.click()
    page.keyboard.type("Dear customer, the address")

    # A link out of the page asks; staying keeps the draft.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Desk").click()
    expect(page).to_have_url(ticket_url)
    assert asked == ["confirm"], asked
    expect(composer).to_have_value("Dear customer, the address")

    # Working the sidebar (a form that comes back to this ticket) keeps the draft, unasked.
    page.get_by_label("Move to").select_option("on_hold")
    page.get_by_role("button", name="Change status").click()
    expect(flash(page)).to_have_text("Status changed to on hold.")
    expect(composer_of(page)).to_have_value("Dear customer, the address")
    assert asked == ["confirm"], asked

    # Reloading asks the browser's own question.
    leave["answer"] = True
    page.reload()
    assert asked == ["confirm", "beforeunload"], asked
    expect(composer_of(page)).to_have_value("")

    # A cleared composer leaves without a question...
    composer = composer_of(page)
    composer.click()
    page.keyboard.type("Never mind")
    composer.fill("")
    page.reload()
    # ...and so does a sent one.
    composer_of(page).click()
    page.keyboard.type("The address is fixed.")
    page.get_by_role("button", name="Send").click()
    expect(flash(page)).to_have_text("Reply sent.")
    page.reload()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Desk").click()
    expect(page).to_have_url(re.compile(r"/desk$"))
    assert asked == ["confirm", "beforeunload"], asked


# --- 3. the export menu -------------------------------------------------------------------------


def test_download_csv_button_can_be_clicked(browsing: Browsing, server: Server, size: str) -> None:
    team = server.department()
    customer = server.customer()
    agent = server.agent(team)
    ticket = server.ticket(customer, team, title="Export me please")

    page = open_page(browsing, size, agent)
    page.goto("/desk?view=queue")
    expect(page.locator("tr[data-row]")).to_have_count(1)
    page.locator("#export summary").click()
    button = page.get_by_role("button", name="Download CSV")
    expect(button).to_be_visible()
    shoot(page, server, f"mouse-export-menu-{size}")
    with page.expect_download() as download:
        button.click(timeout=CLICK_MS)  # its centre: nothing may lie on top of it
    path = download.value.path()
    text = path.read_text(encoding="utf-8-sig")
    assert ticket.number in text and "Export me please" in text


# --- 4. the bulk-update bar ---------------------------------------------------------------------


def test_bulk_bar_only_for_those_who_may_and_once_tickets_are_chosen(
    browsing: Browsing, server: Server, size: str
) -> None:
    team = server.department()
    customer = server.customer(name="Bulk Mouse")
    agent = server.agent(team)
    admin = server.admin()
    first = server.ticket(customer, team, title="Bulk by mouse one")
    server.ticket(customer, team, title="Bulk by mouse two")

    # An agent (no bulk updates): nothing to tick, no bar.
    page = open_page(browsing, size, agent)
    page.goto("/desk?view=queue")
    expect(page.locator("tr[data-row]")).to_have_count(2)
    expect(page.locator("input[name=ticket_ids]")).to_have_count(0)
    expect(page.locator("fieldset.bulk-bar")).to_have_count(0)
    shoot(page, server, f"mouse-bulk-agent-{size}")
    # A page from before (or a hand-made form) is refused in words, not by a permission's name.
    page.evaluate(
        """(id) => {
          const form = document.createElement('form');
          form.method = 'post'; form.action = '/desk/bulk';
          const csrf = document.querySelector('meta[name=csrf-token]').content;
          for (const [name, value] of [['csrf_token', csrf], ['ticket_ids', id], ['priority', 'high']]) {
            const field = document.createElement('input');
            field.type = 'hidden'; field.name = name; field.value = value; form.appendChild(field);
          }
          document.body.appendChild(form);
          form.submit();
        }""",
        str(first.id),
    )
    expect(flash(page)).to_contain_text("not allowed to update tickets in bulk")
    expect(page.locator("main")).not_to_contain_text("tickets:bulk")
    expect(flash(page)).not_to_contain_text("tickets:bulk")

    # An admin: the bar comes once a ticket is ticked, and goes again with the tick.
    page = open_page(browsing, size, admin)
    page.goto(f"/desk?view=all&customer={customer.id}")
    rows = page.locator("tr[data-row]")
    expect(rows).to_have_count(2)
    bar = page.locator("fieldset.bulk-bar")
    expect(bar).to_be_hidden()
    box = rows.filter(has_text="Bulk by mouse one").locator("input[name=ticket_ids]")
    box.click()
    expect(bar).to_be_visible()
    expect(bar).to_contain_text("1 selected")
    box.click()
    expect(bar).to_be_hidden()
    box.click()
    bar.get_by_label("Priority").select_option("high")
    shoot(page, server, f"mouse-bulk-bar-{size}")
    bar.get_by_role("button", name="Update selected").click()
    expect(flash(page)).to_have_text("Updated 1 of 1 tickets.")
    expect(rows.filter(has_text="Bulk by mouse one")).to_contain_text("High")
    expect(rows.filter(has_text="Bulk by mouse two")).to_contain_text("Medium")


# --- 5. live updates on a ticket ----------------------------------------------------------------


def test_live_refresh_keeps_unsaved_choices_and_an_empty_save_says_so(
    browsing: Browsing, server: Server, size: str
) -> None:
    team = server.department()
    customer = server.customer()
    alice = server.agent(team, name="Alice Unsaved")
    bruno = server.agent(team, name="Bruno Busy")
    ticket = server.ticket(customer, team, title="Printer offline again")

    page = open_page(browsing, size, alice)
    page.goto(f"/desk/tickets/{ticket.id}")
    wait_live(page)
    page.evaluate("window.__noReload = true")
    details = page.locator("#side form[action$='/fields']")

    # Alice picks a priority, then looks elsewhere; Bruno's note arrives and refreshes the sidebar.
    details.get_by_label("Priority").select_option("urgent")
    page.locator("h1").click()
    server.api(
        bruno,
        "POST",
        f"/api/v1/tickets/{ticket.id}/replies",
        {"body": "Checked the cable.", "isInternal": True},
    )
    expect(page.locator("#thread")).to_contain_text("Checked the cable.", timeout=LIVE_MS)
    expect(page.locator("#history")).to_contain_text("wrote an internal note", timeout=LIVE_MS)
    expect(details.get_by_label("Priority")).to_have_value("urgent")
    assert page.evaluate("window.__noReload === true"), "the page reloaded instead of refreshing live"

    details.get_by_role("button", name="Save").click()
    expect(flash(page)).to_have_text("Ticket updated.")
    expect(page.locator("#ticket-head")).to_contain_text("Urgent")
    with server.db.unit_of_work(write=False) as session:
        saved = session.get(Ticket, ticket.id)
        assert saved is not None and saved.priority is Priority.URGENT
        version = saved.version

    # Saving again what is already there says that nothing changed, and changes nothing.
    details.get_by_role("button", name="Save").click()
    expect(flash(page)).to_have_text("Nothing to save: the ticket already has these details.")
    with server.db.unit_of_work(write=False) as session:
        again = session.get(Ticket, ticket.id)
        assert again is not None and again.version == version


def test_typing_banner_clears_and_arrivals_are_shown_and_announced(
    browsing: Browsing, server: Server, size: str
) -> None:
    team = server.department()
    customer = server.customer()
    alice = server.agent(team, name="Alice Watching")
    bruno = server.agent(team, name="Bruno Typing")
    ticket = server.ticket(customer, team, title="Mailbox full")

    first = open_page(browsing, size, alice)
    first.goto(f"/desk/tickets/{ticket.id}")
    wait_live(first)
    first.evaluate("window.__noReload = true")
    collision = first.locator("#collision")

    second = open_page(browsing, "desktop", bruno)
    second.goto(f"/desk/tickets/{ticket.id}")
    wait_live(second)
    composer = composer_of(second)
    composer.click()
    composer.press_sequentially("I have cleared the old mail", delay=10)
    expect(collision).to_contain_text("Bruno Typing is typing", timeout=LIVE_MS)

    second.get_by_role("button", name="Send").click()
    expect(flash(second)).to_have_text("Reply sent.")

    expect(first.locator("#thread")).to_contain_text("I have cleared the old mail", timeout=LIVE_MS)
    expect(collision).to_contain_text("Bruno Typing is also viewing", timeout=LIVE_MS)
    expect(collision).not_to_contain_text("typing")
    arrived = first.locator("#thread .message.arrived")
    expect(arrived).to_have_count(1)
    expect(arrived).to_contain_text("I have cleared the old mail")
    expect(first.locator("#live-news")).to_have_text("New reply from Bruno Typing.")
    expect(first.locator("#live-news")).to_have_attribute("aria-live", "polite")
    shoot(first, server, f"mouse-live-arrival-{size}")
    assert first.evaluate("window.__noReload === true")

    # The note Bruno adds next is announced as a note; the earlier arrival stays in the thread.
    second.get_by_label("Internal note").click()
    composer_of(second).click()
    second.keyboard.type("Told them to archive")
    second.get_by_role("button", name="Add note").click()
    expect(flash(second)).to_have_text("Note added.")
    expect(first.locator("#live-news")).to_have_text("New internal note from Bruno Typing.", timeout=LIVE_MS)
    expect(first.locator("#thread .message.arrived")).to_contain_text(["Told them to archive"])


# --- 7. small ones --------------------------------------------------------------------------------


def test_note_placeholder_says_note(browsing: Browsing, server: Server, size: str) -> None:
    team = server.department()
    ticket = server.ticket(server.customer(), team, title="Placeholder check")
    page = open_page(browsing, size, server.agent(team))
    page.goto(f"/desk/tickets/{ticket.id}")
    composer = composer_of(page)
    expect(composer).to_have_attribute("placeholder", re.compile(r"^Write to the customer"))
    page.get_by_label("Internal note").click()
    expect(composer).to_have_attribute("placeholder", re.compile(r"^Write an internal note"))
    expect(composer).not_to_have_attribute("placeholder", re.compile("customer…"))
    shoot(page, server, f"mouse-note-mode-{size}")
    page.get_by_label("Public reply").click()
    expect(composer).to_have_attribute("placeholder", re.compile(r"^Write to the customer"))


def test_failed_sign_in_keeps_the_address(browsing: Browsing, server: Server, size: str) -> None:
    agent = server.agent(server.department())
    page = open_page(browsing, size)
    page.goto("/login")
    page.get_by_label("E-mail").click()
    page.keyboard.type(agent.email)
    page.get_by_label("Password").click()
    page.keyboard.type("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("The e-mail address or password is not right.")
    expect(page.get_by_label("E-mail")).to_have_value(agent.email)
    expect(page.get_by_label("Password")).to_have_value("")
    expect(page.get_by_label("Password")).to_be_focused()
    shoot(page, server, f"mouse-login-failed-{size}")
    page.keyboard.type(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/desk$"))


def _views(server: Server, ticket_id: int) -> int:
    with server.db.unit_of_work(write=False) as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket.view_count


def test_own_reloads_after_actions_do_not_count_as_views(
    browsing: Browsing, server: Server, size: str
) -> None:
    team = server.department()
    ticket = server.ticket(server.customer(), team, title="Count me once")
    alice, bruno = server.agent(team), server.agent(team)

    page = open_page(browsing, size, alice)
    page.goto(f"/desk/tickets/{ticket.id}")
    wait_live(page)
    details = page.locator("#side form[action$='/fields']")
    details.get_by_label("Priority").select_option("high")
    details.get_by_role("button", name="Save").click()
    expect(flash(page)).to_have_text("Ticket updated.")
    page.get_by_label("Internal note").click()
    composer_of(page).click()
    page.keyboard.type("Counting views")
    page.get_by_role("button", name="Add note").click()
    expect(flash(page)).to_have_text("Note added.")
    page.reload()

    # Another agent's visit counts; the views are written every few seconds.
    other = open_page(browsing, size, bruno)
    other.goto(f"/desk/tickets/{ticket.id}")
    deadline_ms = LIVE_MS * 2
    for _ in range(deadline_ms // 250):
        if _views(server, ticket.id) >= 2:
            break
        page.wait_for_timeout(250)
    assert _views(server, ticket.id) == 2
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Desk").click()
    page.get_by_role("link", name="Count me once").click()
    expect(page.locator("#ticket-head")).to_contain_text("2 views")


def test_priority_pills_are_readable(browsing: Browsing, server: Server, axe_source: str, size: str) -> None:
    team = server.department()
    customer = server.customer()
    for priority in Priority:
        server.ticket(customer, team, title=f"Pill {priority.value}", priority=priority)
    page = open_page(browsing, size, server.agent(team))
    page.goto("/desk?view=queue")
    expect(page.locator("tr[data-row]")).to_have_count(len(Priority))
    page.evaluate(axe_source + "\n;undefined")
    violations: list[dict[str, Any]] = page.evaluate(RUN_AXE)
    contrast = [v for v in violations if v["id"] == "color-contrast"]
    assert not contrast, contrast


def test_moved_messages_name_their_ticket_by_number(browsing: Browsing, server: Server, size: str) -> None:
    from ticketry.threads import split as splits

    team = server.department()
    customer = server.customer()
    agent = server.agent(team)
    source = server.ticket(customer, team, title="Two problems in one")
    second = make_message(server.db, customer, source.id, body="And the scanner is broken too.")
    with server.db.unit_of_work() as session:
        new_id = splits.split_ticket(session, agent.actor, source.id, [second.id], title="Scanner broken").id

    page = open_page(browsing, size, agent)
    page.goto(f"/desk/tickets/{new_id}")
    badge = page.locator("#thread .moved-badge")
    expect(badge).to_have_text(f"from {source.number}")
    expect(page.locator("#thread")).not_to_contain_text("#")
    badge.click()
    expect(page.locator("h1")).to_have_text("Two problems in one")


@pytest.fixture(scope="module")
def server_without_pdf(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The same database served by a second `ticketry serve` in which WeasyPrint cannot be
    imported: an install without the `pdf` extra."""
    workdir = tmp_path_factory.mktemp("no-pdf")
    (workdir / "weasyprint.py").write_text('raise ImportError("installed without the pdf extra")\n')
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(workdir), os.environ.get("PYTHONPATH")])),
        "TICKETRY_DATABASE_URL": server.db.engine.url.render_as_string(hide_password=False),
        "TICKETRY_SECRET_KEY": "browser-tests-" + uuid.uuid4().hex,
        "TICKETRY_INPROCESS_WORKER": "false",
        "TICKETRY_LOG_LEVEL": "WARNING",
    }
    log = workdir / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
            [_ticketry_command(), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-migrate"],
            env=env,
            cwd=workdir,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(process, url, log)
        yield Server(backend=server.backend, url=url, db=server.db, log=log)
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_pdf_install_hint_is_for_admins_only(
    browsing: Browsing, server_without_pdf: Server, size: str
) -> None:
    there = server_without_pdf
    team = there.department()
    ticket = there.ticket(there.customer(), team, title="No PDF here")

    page = open_page(browsing, size, there.agent(team), server=there)
    page.goto(f"/desk/tickets/{ticket.id}")
    expect(page.locator("#ticket-head")).to_contain_text("PDF export is not available")
    assert "pip install" not in page.content()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Desk").click()
    page.locator("#export summary").click()
    expect(page.locator("#pdf-missing")).to_have_text("PDF export is not available on this desk.")
    assert "pip install" not in page.content()
    shoot(page, there, f"mouse-export-no-pdf-{size}")

    page = open_page(browsing, size, there.admin(), server=there)
    page.goto("/desk?view=all")
    page.locator("#export summary").click()
    expect(page.locator("#pdf-missing")).to_contain_text("pip install 'ticketry[pdf]'")
