"""Hostile text, typed into every field a person can fill, renders inert on every page that shows
it. The `browsing` fixture fails the test if any dialog opens or the console reports a CSP
violation; here we also look at the DOM itself, since the CSP alone would hide an injection."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import Browsing, Server

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
LINK = "[x](javascript:alert(1))"
HOSTILE = f"{SCRIPT} {IMG} {LINK}"

# What a page may legitimately run: our own files, nothing else.
OUR_SCRIPTS = ["/static/vendor/htmx.min.js", "/static/app.js", "/static/uploads.js", "/static/live.js"]
# Desk pages add these for staff (live toasts of watched tickets, the canned-reply picker).
STAFF_SCRIPTS = ["/static/watch.js", "/static/canned.js"]

DOM_REPORT = """() => {
  const all = Array.from(document.querySelectorAll('*'));
  const scripts = Array.from(document.scripts).map(s => s.getAttribute('src') || ('inline:' + s.text));
  const handlers = [];
  const jsUrls = [];
  for (const el of all) {
    for (const attr of Array.from(el.attributes)) {
      const value = attr.value.replace(/[\\s\\u0000-\\u001f]/g, '').toLowerCase();
      if (attr.name.startsWith('on')) handlers.push(el.tagName + '[' + attr.name + ']');
      if (/^(href|src|action|formaction|xlink:href|data|srcdoc)$/.test(attr.name) &&
          (value.startsWith('javascript:') || value.startsWith('data:text/html'))) {
        jsUrls.push(el.tagName + '[' + attr.name + '=' + attr.value + ']');
      }
    }
  }
  const images = Array.from(document.images).map(i => i.getAttribute('src'));
  return {scripts, handlers, jsUrls, images, text: document.body.innerText};
}"""


def _assert_inert(page: Page, *, shows_subject: bool = True) -> None:
    report = page.evaluate(DOM_REPORT)
    scripts = report["scripts"]
    assert set(OUR_SCRIPTS) <= set(scripts) <= set(OUR_SCRIPTS + STAFF_SCRIPTS), scripts
    assert len(scripts) == len(set(scripts)), scripts
    assert report["handlers"] == [], report["handlers"]
    assert report["jsUrls"] == [], report["jsUrls"]
    assert "x" not in report["images"], report["images"]
    if shows_subject:
        # Shown as the text it is, not swallowed.
        assert SCRIPT in report["text"], page.url


def test_hostile_text_renders_inert_everywhere(browsing: Browsing, server: Server) -> None:
    team = server.department()
    customer = server.customer(name=f"Mallory {SCRIPT}")
    agent = server.agent(team, name='Agent "><img src=x onerror=alert(2)>')

    # The customer files the ticket through the form, then edits it (history keeps both).
    portal = browsing.page(customer)
    portal.goto("/tickets/new")
    portal.get_by_label("Subject").fill(f"Help {SCRIPT} {IMG}")
    portal.get_by_label("Department").select_option(team)
    portal.get_by_label("Description").fill(f'{HOSTILE}\n\n<a href="javascript:alert(3)">click</a>')
    expect(portal.locator("#preview")).to_contain_text("click")  # the preview is sanitized too
    _assert_inert(portal, shows_subject=False)
    portal.get_by_role("button", name="Open ticket").click()
    expect(portal.locator(".flash")).to_contain_text("is open")
    ticket_id = int(re.findall(r"/tickets/(\d+)", portal.url)[0])
    portal.get_by_text("Edit title or description").click()
    portal.locator("form[action$='/edit'] input[name=title]").fill(f"Edited {SCRIPT} {IMG}")
    portal.get_by_role("button", name="Save changes").click()
    expect(portal.locator(".flash")).to_have_text("Your changes are saved.")
    portal.get_by_label("Your reply").fill(f"Reply {HOSTILE}")
    portal.get_by_role("button", name="Send reply").click()
    expect(portal.locator(".flash")).to_have_text("Your reply was sent.")

    # The agent works it: a note, a public reply, a status change with a hostile reason.
    desk = browsing.page(agent)
    desk.goto(f"/desk/tickets/{ticket_id}")
    desk.get_by_label("Internal note").check()
    desk.get_by_role("textbox", name="Message", exact=True).fill(f"Note {HOSTILE}")
    desk.get_by_role("button", name="Add note").click()
    expect(desk.locator(".flash")).to_have_text("Note added.")
    desk.get_by_role("textbox", name="Message", exact=True).fill(f"Answer {HOSTILE}")
    desk.get_by_role("button", name="Send").click()
    expect(desk.locator(".flash")).to_have_text("Reply sent.")
    desk.get_by_label("Move to").select_option("on_hold")
    desk.get_by_label("Reason").fill(f"Because {HOSTILE}")
    desk.get_by_role("button", name="Change status").click()
    expect(desk.locator(".flash")).to_have_text("Status changed to on hold.")

    # Desk ticket page: thread, history (old and new titles, the reason), customer card.
    history = desk.locator("#history")
    expect(history).to_contain_text(f"Because {SCRIPT}")
    expect(history).to_contain_text("changed title")
    expect(desk.locator("#thread")).to_contain_text(f"Note {SCRIPT}")
    _assert_inert(desk)

    # Desk list, found by the search box (an htmx swap of the results).
    desk.goto("/desk?view=all")
    desk.locator("[data-search]").fill("Edited")
    row = desk.locator("tr[data-row]", has_text="Edited")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(f"Mallory {SCRIPT}")
    _assert_inert(desk)

    # Portal list and ticket page.
    portal.goto("/?tab=all")
    expect(portal.locator(".ticket-card")).to_contain_text(f"Edited {SCRIPT}")
    _assert_inert(portal)
    portal.goto(f"/tickets/{ticket_id}")
    expect(portal.locator("#thread")).to_contain_text(f"Answer {SCRIPT}")
    _assert_inert(portal)
    assert "Note <script>" not in portal.locator("body").inner_text()  # and staff-only stays so

    # The Markdown link with a javascript: target kept its text and lost its target.
    link_text = portal.locator("#thread .body").first
    expect(link_text).to_contain_text("x")
    assert portal.locator("#thread a[href*='javascript' i]").count() == 0
