"""Mail held for review (issue 12 items 2-3): an agent sees why it was held and accepts it into the
conversation with one click; only then does the customer see it. Mouse clicks, desk and phone."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import Browsing, Server, shoot
from tests.factories import make_user
from ticketry.auth import service as auth_service
from ticketry.messages import service as message_service
from ticketry.users import service as users
from ticketry.users.models import Role

SHOTS = Path("/tmp/shots")  # noqa: S108 - where the lead collects screenshots
CODE = "Your verification code is 482910"


def held_mail(server: Server, ticket_id: int) -> None:
    """A stranger's mail to the ticket's reply address, as the mail channel holds it."""
    stranger = make_user(server.db, role=Role.CUSTOMER, name="Signup Robot")
    with server.db.unit_of_work() as session:
        author = auth_service.actor_for(session, users.get_user(session, stranger.id))
        message_service.post_mail_reply(
            session,
            author,
            ticket_id,
            body=CODE,
            is_internal=False,
            mail_text=CODE,
            mail_html=None,
            held_reason=f"{stranger.email} is not a participant of this ticket: held for an agent to accept.",
        )


def test_an_agent_accepts_held_mail_with_a_click_and_only_then_the_customer_sees_it(
    browsing: Browsing, server: Server
) -> None:
    team = server.department()
    customer = server.customer(name="Held Customer")
    agent = server.agent(team)
    ticket = server.ticket(customer, team, title="Cannot sign in")
    held_mail(server, ticket.id)

    portal = browsing.page(customer)
    portal.goto(f"/tickets/{ticket.id}")
    expect(portal.locator("main")).not_to_contain_text(CODE)

    phone = browsing.browser.new_context(base_url=server.url, viewport={"width": 390, "height": 844})
    browsing.contexts.append(phone)
    small = browsing.page(agent, context=phone)
    small.goto(f"/desk/tickets/{ticket.id}")
    notice = small.locator(".held-notice")
    expect(notice).to_contain_text("not a participant")
    expect(small.locator(".message.held")).to_contain_text("Held: staff only")
    SHOTS.mkdir(parents=True, exist_ok=True)
    small.screenshot(
        path=str(SHOTS / f"held-mail-phone-{server.backend}.png"), full_page=True, caret="initial"
    )

    page = browsing.page(agent)
    page.goto(f"/desk/tickets/{ticket.id}")
    shoot(page, server, "desk-held-mail")
    page.locator(".held-notice").get_by_role("button", name="Accept into the conversation").click()
    expect(page.locator(".flash")).to_contain_text("Mail accepted")
    expect(page.locator(".held-notice")).to_have_count(0)
    expect(page.locator("#participants")).to_contain_text("Signup Robot")
    page.screenshot(
        path=str(SHOTS / f"held-mail-accepted-{server.backend}.png"), full_page=True, caret="initial"
    )

    portal.reload()
    expect(portal.locator("main")).to_contain_text(CODE)
