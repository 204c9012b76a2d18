"""Attachments in a real browser: each file uploads as soon as it is chosen, with its own progress
bar and Remove button; the form sends only the ids; the thread lists the files (thumbnails for
images) and a note's files never reach the customer."""

from __future__ import annotations

import re
import struct
import zlib
from contextlib import suppress
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Locator, Page, Route, expect

from tests.browser.conftest import Browsing, Server, Watch, shoot
from ticketry.attachments.intake import human_size
from ticketry.core.config import get_settings

UPLOAD_URL = "**/api/v1/attachments"


def _png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A real PNG of one colour, small enough to inline in a test."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _file(name: str, mime_type: str, data: bytes) -> Any:
    return {"name": name, "mimeType": mime_type, "buffer": data}


def _upload(page: Page, name: str) -> Locator:
    """The row of one file in the form's upload list."""
    return page.locator("[data-upload-list] li", has=page.locator(".upload-name", has_text=name))


def _ticket_id(page: Page) -> int:
    match = re.search(r"/tickets/(\d+)", page.url)
    assert match, page.url
    return int(match.group(1))


def _serious_axe_violations(page: Page, axe_source: str) -> list[str]:
    page.evaluate(axe_source + "\n;undefined")  # through DevTools: the page keeps its CSP
    found: list[dict[str, Any]] = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(' '))}))"
    )
    return [f"{v['id']} {v['nodes']}" for v in found if v["impact"] in ("serious", "critical")]


def test_files_go_with_a_ticket_and_a_note(browsing: Browsing, server: Server, axe_source: str) -> None:
    team = server.department()
    customer = server.customer(name="Fiona Files")
    agent = server.agent(team, name="Ulrich Uploader")
    screenshot = _png(40, 30, (41, 82, 204))
    log = b"2026-01-05 09:12:44 ERROR printer spooler stopped\n" * 40

    # The customer chooses two files: both upload at once, each with its own progress bar.
    portal = browsing.page(customer)
    portal.goto("/tickets/new")
    portal.get_by_label("Subject").fill("Scanner saves empty PDFs")
    portal.get_by_label("Department").select_option(team)
    portal.get_by_label("Description").fill("The screenshot and the log are attached.")
    files = portal.get_by_label("Attach files")
    files.set_input_files(
        [_file("screen.png", "image/png", screenshot), _file("spooler.log.txt", "text/plain", log)]
    )
    for name in ("screen.png", "spooler.log.txt"):
        row = _upload(portal, name)
        expect(row).to_have_attribute("data-state", "done")
        expect(row).to_contain_text("Uploaded")
        assert row.locator("progress").evaluate("bar => bar.value === bar.max && bar.max > 0")
    expect(_upload(portal, "spooler.log.txt")).to_contain_text("2.0 KB")
    expect(portal.locator('input[type="hidden"][name="attachment_ids"]')).to_have_count(2)
    assert files.evaluate("input => input.files.length") == 0  # the form never carries the bytes
    expect(portal.locator("[data-upload-status]")).to_contain_text("uploaded")
    shoot(portal, server, "attachments-new-ticket")
    assert not _serious_axe_violations(portal, axe_source)

    # Removing one deletes the upload on the server and its id from the form.
    with portal.expect_response(
        lambda r: r.request.method == "DELETE" and "/api/v1/attachments/" in r.url
    ) as deleted:
        _upload(portal, "screen.png").get_by_role("button", name="Remove").click()
    assert deleted.value.status == 204
    expect(_upload(portal, "screen.png")).to_have_count(0)
    expect(portal.locator('input[name="attachment_ids"]')).to_have_count(1)
    # Focus moves to the next file's button rather than falling to the top of the page.
    expect(_upload(portal, "spooler.log.txt").get_by_role("button", name="Remove")).to_be_focused()

    portal.get_by_role("button", name="Open ticket").click()
    expect(portal.locator(".flash")).to_contain_text("is open")
    ticket_id = _ticket_id(portal)
    description = portal.locator("#thread .message").first
    expect(description.locator(".attachments")).to_contain_text("spooler.log.txt")
    expect(description.locator(".attachments")).to_contain_text("2.0 KB")
    expect(description.locator(".attachments")).to_contain_text("text file")
    expect(portal.locator("#thread")).not_to_contain_text("screen.png")

    # The download is the very file that was chosen.
    with portal.expect_download() as download:
        portal.get_by_role("link", name="spooler.log.txt").click()
    assert download.value.suggested_filename == "spooler.log.txt"
    assert Path(download.value.path()).read_bytes() == log
    shoot(portal, server, "attachments-portal-ticket")

    # The agent sees the customer's file and adds an internal note with an image.
    desk = browsing.page(agent)
    desk.goto(f"/desk/tickets/{ticket_id}")
    expect(desk.locator("#thread .message").first).to_contain_text("spooler.log.txt")
    desk.get_by_label("Internal note").check()
    desk.get_by_role("textbox", name="Message", exact=True).fill("Known firmware bug, see the diagram.")
    diagram = _png(64, 48, (232, 197, 71))
    desk.get_by_label("Attach files").set_input_files([_file("firmware-diagram.png", "image/png", diagram)])
    expect(_upload(desk, "firmware-diagram.png")).to_have_attribute("data-state", "done")
    shoot(desk, server, "attachments-desk-composer")
    desk.get_by_role("button", name="Add note").click()
    expect(desk.locator(".flash")).to_have_text("Note added.")
    note = desk.locator("#thread .message.note")
    expect(note).to_contain_text("firmware-diagram.png")
    thumbnail = note.locator(".attachments img")
    expect(thumbnail).to_have_attribute("alt", re.compile("firmware-diagram.png"))
    thumbnail.scroll_into_view_if_needed()  # lazy: loads once on screen
    desk.wait_for_function("img => img.complete && img.naturalWidth === 64", arg=thumbnail.element_handle())
    shoot(desk, server, "attachments-desk-note")
    assert not _serious_axe_violations(desk, axe_source)
    with desk.expect_popup() as viewer:  # the thumbnail opens the picture itself
        thumbnail.click()
    viewer.value.wait_for_load_state()
    assert viewer.value.evaluate("document.images[0].naturalWidth") == 64
    viewer.value.close()
    note_file = note.get_by_role("link", name="firmware-diagram.png", exact=True).get_attribute("href")
    assert note_file

    # The customer never sees the note's file, nor can fetch it.
    portal.reload()
    expect(portal.locator("#thread")).to_contain_text("spooler.log.txt")
    assert "firmware-diagram" not in portal.content()
    assert note_file not in portal.content()
    assert portal.request.get(note_file).status == 404
    assert portal.request.get(note_file + "?inline=1").status == 404


def test_a_refused_file_shows_why_and_is_not_sent(browsing: Browsing, server: Server, watch: Watch) -> None:
    customer = server.customer()
    page = browsing.page(customer)
    page.goto("/tickets/new")
    # Dropped on the drop zone, with a name that would be markup if it were ever written as HTML.
    name = "<img src=x onerror=alert(1)>.html"
    dropped = page.evaluate_handle(
        """name => {
            const files = new DataTransfer();
            files.items.add(new File(["<html><script>alert(1)</script></html>"], name, {type: "text/html"}));
            return files;
        }""",
        name,
    )
    zone = page.locator("[data-dropzone]")
    zone.dispatch_event("dragover", {"dataTransfer": dropped})
    expect(zone).to_have_class(re.compile(r"\bdragging\b"))
    with page.expect_response(
        lambda r: r.request.method == "POST" and r.url.endswith("/api/v1/attachments")
    ) as sent:
        zone.dispatch_event("drop", {"dataTransfer": dropped})
    expect(zone).not_to_have_class(re.compile(r"\bdragging\b"))
    assert sent.value.status == 415
    reason = sent.value.json()["error"]["message"]
    row = _upload(page, name)
    expect(row).to_have_attribute("data-state", "failed")
    expect(row.locator(".upload-error")).to_have_text(reason)
    expect(row.locator(".upload-name")).to_have_text(name)
    expect(row.locator("img")).to_have_count(0)
    expect(page.locator("[data-upload-status]")).to_contain_text("was not attached")
    expect(page.locator('input[name="attachment_ids"]')).to_have_count(0)
    expect(page.get_by_role("button", name="Open ticket")).to_be_enabled()
    shoot(page, server, "attachments-refused")

    # Dismissed with Remove; nothing was stored, so nothing is deleted.
    row.get_by_role("button", name="Remove").click()
    expect(row).to_have_count(0)
    expect(page.get_by_label("Attach files")).to_be_focused()

    # A file over the size limit is refused in the page, before any byte is sent.
    limit = int(get_settings().attachment_max_file_size)  # the server runs with the same environment
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    too_big = page.evaluate_handle(
        """size => {
            const files = new DataTransfer();
            files.items.add(new File([new Uint8Array(size)], "disk-image.zip", {type: "application/zip"}));
            return files;
        }""",
        limit + 1,
    )
    zone.dispatch_event("drop", {"dataTransfer": too_big})
    big = _upload(page, "disk-image.zip")
    expect(big).to_have_attribute("data-state", "failed")
    expect(big.locator(".upload-error")).to_have_text(
        f"This file is larger than {human_size(limit)}, the limit."
    )
    assert posts == []

    # Chromium logs every refused request on the console; this one was the point of the test.
    refused = [e for e in watch.errors if "status of 415" in e and "/api/v1/attachments" in e]
    assert len(refused) == 1, watch.errors
    watch.errors.remove(refused[0])


def test_sending_waits_for_uploads(browsing: Browsing, server: Server) -> None:
    team = server.department()
    customer = server.customer()
    ticket = server.ticket(customer, team, title="Reply with a file")
    page = browsing.page(customer)
    page.goto(f"/tickets/{ticket.id}")
    send = page.get_by_role("button", name="Send reply")
    held: list[Route] = []

    def hold(route: Route) -> None:  # uploads wait here until the test releases them
        held.append(route)

    page.route(UPLOAD_URL, hold)

    # Removing a file while it uploads cancels the upload.
    page.get_by_label("Attach files").set_input_files([_file("draft.txt", "text/plain", b"draft")])
    expect(_upload(page, "draft.txt")).to_have_attribute("data-state", "uploading")
    expect(send).to_be_disabled()
    expect(page.get_by_text("Sending is possible once the uploads have finished.")).to_be_visible()
    _upload(page, "draft.txt").get_by_role("button", name="Remove").click()
    expect(_upload(page, "draft.txt")).to_have_count(0)
    expect(send).to_be_enabled()
    for route in held:
        with suppress(PlaywrightError):  # the browser gave up on it already
            route.abort()
    held.clear()

    # A reply waits for its file, then goes with it.
    page.get_by_label("Your reply").fill("Here is the configuration file.")
    page.get_by_label("Attach files").set_input_files([_file("printer.conf.txt", "text/plain", b"dpi=600\n")])
    expect(_upload(page, "printer.conf.txt")).to_have_attribute("data-state", "uploading")
    expect(send).to_be_disabled()
    page.locator("form", has=send).evaluate("form => form.requestSubmit()")  # as Enter would
    expect(page.locator("[data-upload-status]")).to_contain_text("Wait until the files have finished")
    expect(page.locator(".flash")).to_have_count(0)
    shoot(page, server, "attachments-uploading")
    for _ in range(500):  # a routed request reaches the test between its calls to the browser
        if held:
            break
        page.wait_for_timeout(20)
    held.pop().continue_()
    expect(_upload(page, "printer.conf.txt")).to_have_attribute("data-state", "done")
    expect(send).to_be_enabled()
    send.click()
    expect(page.locator(".flash")).to_have_text("Your reply was sent.")
    latest = page.locator("#thread .message").last
    expect(latest).to_contain_text("Here is the configuration file.")
    expect(latest.locator(".attachments")).to_contain_text("printer.conf.txt")
    shoot(page, server, "attachments-reply")
