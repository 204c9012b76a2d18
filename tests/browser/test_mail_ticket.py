"""A ticket that came by mail, in a real browser (issue 5): the desk shows the new text of each
mail, the whole mail opens on demand with its inline image, and no remote image is ever asked
for (a tracking pixel would tell the sender who read the mail, and when)."""

from __future__ import annotations

import hashlib
import time
import uuid
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid

from playwright.sync_api import Request, expect
from sqlalchemy import select

from tests.browser.conftest import Browsing, Server, shoot
from tests.browser.test_admin_mail import _push
from ticketry.mail.inbound.models import Mailbox
from ticketry.mail.log.models import MailLog, MailStatus
from ticketry.users import service as users

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x02\x00\x00\x00\x90\x91h6"
    b"\x00\x00\x00\x19IDATx\x9cc\xfc\xcf\xc0P\x0f\x03\x8c\x8c\x8c\x0c\xa3\x1a1\x8c\x1a1\x88\x10\x00"
    b"\x9a\x8d\x03\x1d\x14\x9a\x8f\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


def _mailbox(server: Server, department: str) -> str:
    secret = "whsec_" + uuid.uuid4().hex
    with server.db.unit_of_work() as session:
        session.add(
            Mailbox(
                name=f"Mail {department}",
                address=f"{department}@help.example.com",
                department_id=users.find_department(session, department).id,
                webhook_secret_hash=hashlib.sha256(secret.encode()).hexdigest(),
                last_error="",
                last_uid=0,
            )
        )
    return secret


def _ingested(server: Server, message_id: str) -> MailLog:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with server.db.unit_of_work(write=False) as session:
            entry = session.scalars(select(MailLog).where(MailLog.message_id_header == message_id)).first()
            if entry is not None and entry.status is not MailStatus.RECEIVED:
                return entry
        time.sleep(0.2)
    raise AssertionError(f"{message_id} was not ingested within 30 s")


def test_a_mail_thread_reads_well_and_loads_nothing_remote(browsing: Browsing, server: Server) -> None:
    department = server.department()
    agent = server.agent(department, name="Agnes Agent")
    secret = _mailbox(server, department)
    tag = uuid.uuid4().hex[:6]

    first = EmailMessage(policy=SMTP)
    first["From"] = f"Carla Customer <carla-{tag}@customer.example>"
    first["To"] = f"{department}@help.example.com"
    first["Subject"] = f"Invoice {tag} is wrong"
    first["Message-ID"] = first_id = make_msgid(domain="customer.example")
    first.set_content("Hello,\n\nthe invoice shows 12 seats; we have 10.\n\nCarla")
    first.add_alternative(
        "<p>Hello,</p><p>the invoice shows <b>12 seats</b>; we have 10. See the screenshot:</p>"
        '<p><img src="cid:seats@customer.example" alt="seats"></p>'
        '<p><img src="https://tracker.example/pixel.gif?who=carla" alt=""></p><p>Carla</p>',
        subtype="html",
    )
    html_part = first.get_body(preferencelist=("html",))
    assert html_part is not None
    html_part.add_related(
        PNG, maintype="image", subtype="png", cid="<seats@customer.example>", filename="seats.png"
    )  # type: ignore[attr-defined]
    assert _push(server, secret, first.as_bytes()) == 202
    ticket_id = _ingested(server, first_id).ticket_id
    assert ticket_id is not None

    reply = EmailMessage(policy=SMTP)
    reply["From"] = f"Carla Customer <carla-{tag}@customer.example>"
    reply["To"] = f"{department}@help.example.com"
    reply["Subject"] = f"Re: Invoice {tag} is wrong"
    reply["Message-ID"] = reply_id = make_msgid(domain="customer.example")
    reply["In-Reply-To"] = first_id
    reply["References"] = first_id
    reply.set_content(
        "Any news? Our accountant is asking.\n\n-- \nCarla Customer\nHead of Finance\n\n"
        "On Mon, 23 Nov 2026 at 09:12, Carla Customer wrote:\n> Hello,\n> the invoice shows 12 seats"
    )
    assert _push(server, secret, reply.as_bytes()) == 202
    assert _ingested(server, reply_id).status is MailStatus.APPENDED

    remote: list[str] = []
    page = browsing.page(agent)

    def watch(request: Request) -> None:
        if "tracker.example" in request.url:
            remote.append(request.url)

    page.on("request", watch)
    page.goto(f"/desk/tickets/{ticket_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Invoice {tag} is wrong")
    thread = page.locator("#thread")
    expect(thread).to_contain_text("Any news? Our accountant is asking.")
    latest = page.locator("#latest")
    expect(latest.locator(".body")).not_to_contain_text("Head of Finance")
    expect(latest.locator(".body")).not_to_contain_text("the invoice shows 12 seats")
    latest.get_by_text("Show the whole e-mail").click()
    expect(latest.locator(".mail-text")).to_contain_text("On Mon, 23 Nov 2026")
    description = thread.locator("article").first
    description.get_by_text("Show the whole e-mail").click()
    image = description.locator(".mail-html img[alt='seats']")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.naturalWidth") == 16, "the inline image loads from our server"
    shoot(page, server, "desk-mail-thread")
    assert remote == [], f"remote images were requested: {remote}"
