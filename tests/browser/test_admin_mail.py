"""The admin's mail pages in a real browser (issue 5): a mailbox added through the form, its
connection tested, a webhook secret made and used, and the mail found in the log. axe-core
finds no serious problem on any of these pages, and the `browsing` fixture no console error
or CSP report."""

from __future__ import annotations

import re
import urllib.request
import uuid
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.conftest import Browsing, Server, shoot
from tests.browser.test_accessibility import _axe
from tests.mail_admin import raw_mail
from tests.servers import closed_port


def _serious(page: Page, source: str, name: str, found: dict[str, Any]) -> None:
    violations = [v for v in _axe(page, source) if v["impact"] in ("serious", "critical")]
    if violations:
        found[name] = violations


def _push(server: Server, secret: str, raw: bytes) -> int:
    request = urllib.request.Request(  # noqa: S310 - our own server
        server.url + "/api/v1/mail/inbound",
        data=raw,
        method="POST",
        headers={"Authorization": f"Bearer {secret}", "Content-Type": "message/rfc822"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return int(response.status)


def test_admin_sets_up_a_mailbox_and_finds_its_mail(
    browsing: Browsing, server: Server, axe_source: str
) -> None:
    admin = server.admin()
    tag = uuid.uuid4().hex[:8]
    port = closed_port()
    found: dict[str, Any] = {}
    page = browsing.page(admin)

    page.goto("/admin/mailboxes/new")
    _serious(page, axe_source, "mailbox-new", found)
    page.locator('[name="name"]').fill(f"Support {tag}")
    page.locator('[name="address"]').fill(f"support-{tag}@help.example.com")
    page.locator('[name="imap_host"]').fill("127.0.0.1")
    page.locator('[name="imap_port"]').fill(str(port))
    page.locator('[name="imap_username"]').fill("support")
    page.locator('[name="imap_password"]').fill("imap-password-in-browser")
    shoot(page, server, "admin-mailbox-new")
    page.get_by_role("button", name="Add mailbox").click()
    expect(page.locator(".flash")).to_contain_text("was created")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Support {tag}")
    assert "imap-password-in-browser" not in page.content()

    page.get_by_role("button", name="Test connection").click()
    expect(page.locator(".flash-error")).to_contain_text(f"Could not connect to 127.0.0.1:{port}")

    page.get_by_role("button", name="Create secret").click()
    secret = page.locator("#webhook-secret").inner_text()
    assert re.fullmatch(r"whsec_[\w-]+", secret)
    expect(page.locator("main")).to_contain_text("/api/v1/mail/inbound")
    _serious(page, axe_source, "mailbox-secret", found)
    shoot(page, server, "admin-mailbox-secret")

    assert _push(server, secret, raw_mail(subject=f"Pushed {tag}")) == 202

    page.goto("/admin/mailboxes")
    expect(page.locator("main")).to_contain_text(f"support-{tag}@help.example.com")
    _serious(page, axe_source, "mailboxes", found)
    shoot(page, server, "admin-mailboxes")

    page.goto(f"/admin/mail?q={tag}")
    expect(page.get_by_role("link", name=f"Pushed {tag}", exact=True)).to_be_visible()
    _serious(page, axe_source, "mail-log", found)
    shoot(page, server, "admin-mail-log")

    page.get_by_role("link", name=f"Pushed {tag}", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Pushed {tag}")
    expect(page.get_by_role("link", name="Download .eml")).to_be_visible()
    _serious(page, axe_source, "mail-entry", found)
    shoot(page, server, "admin-mail-entry")

    page.goto("/admin/settings")
    expect(page.get_by_role("group", name="Incoming mail")).to_be_visible()
    _serious(page, axe_source, "settings-mail", found)

    assert not found, "axe found serious or critical problems:\n" + "\n".join(
        f"{name}: {v['id']} ({v['impact']}): {v['help']}\n    " + "\n    ".join(v["nodes"])
        for name, violations in found.items()
        for v in violations
    )
