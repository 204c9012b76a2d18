"""axe-core on the main pages: no serious or critical violations. Every page is also kept as a
screenshot (tests/screenshots/) and watched for console errors by the `browsing` fixture."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import Browsing, Server, shoot
from tests.factories import make_message

RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + n.failureSummary),
  }));
}"""


def _axe(page: Page, source: str) -> list[dict[str, Any]]:
    # The page's CSP (script-src 'self') refuses injected <script> tags; evaluating through the
    # DevTools protocol is not subject to it, so the page keeps its real policy under test.
    page.evaluate(source + "\n;undefined")
    violations: list[dict[str, Any]] = page.evaluate(RUN_AXE)
    return violations


def _check(page: Page, server: Server, source: str, name: str, found: dict[str, Any]) -> None:
    shoot(page, server, name)
    serious = [v for v in _axe(page, source) if v["impact"] in ("serious", "critical")]
    if serious:
        found[name] = serious


def test_main_pages_have_no_serious_accessibility_violations(
    browsing: Browsing, server: Server, axe_source: str
) -> None:
    team = server.department()
    customer = server.customer(name="Ada Accessible")
    agent = server.agent(team, name="Axel Agent")
    ticket = server.ticket(customer, team, title="Screen reader cannot find the menu")
    make_message(server.db, customer, ticket.id, body="It happens on every page.")
    make_message(server.db, agent, ticket.id, body="Checking the *menu* markup.", internal=True)
    make_message(server.db, agent, ticket.id, body="Could you tell us which screen reader?")
    found: dict[str, Any] = {}

    page = browsing.page()
    page.goto("/login")
    _check(page, server, axe_source, "login", found)

    page = browsing.page(customer)
    page.goto("/")
    expect(page.locator(".ticket-card")).to_have_count(1)
    _check(page, server, axe_source, "portal-list-a11y", found)
    page.goto("/tickets/new")
    _check(page, server, axe_source, "new-ticket", found)
    page.goto(f"/tickets/{ticket.id}")
    expect(page.locator("#thread")).to_contain_text("which screen reader")
    _check(page, server, axe_source, "portal-ticket-a11y", found)

    page = browsing.page(agent)
    page.goto("/desk?view=queue")
    expect(page.locator("tr[data-row]")).to_have_count(1)
    _check(page, server, axe_source, "desk-list", found)
    page.goto(f"/desk/tickets/{ticket.id}")
    expect(page.locator("#thread")).to_contain_text("Checking the")
    _check(page, server, axe_source, "desk-ticket-a11y", found)

    assert not found, "axe found serious or critical problems:\n" + "\n".join(
        f"{page_name}: {v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"])
        for page_name, violations in found.items()
        for v in violations
    )
