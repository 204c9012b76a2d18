"""What a customer's live event stream tells them (issue 12 item 11, docs/product.md §1: internal notes and
staff activity never reach a customer by any path, realtime events included). The attack class is
CWE-203 (observable discrepancy): an open portal page received an event whenever staff wrote an
internal note, an agent opened the ticket, or any ticket anywhere changed, and kept streaming after
the customer signed out.

Against a real `ticketry serve` (the browser tests' server: SSE needs a real HTTP server), read
with a plain streaming HTTP client, as a script on the customer's machine would.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import httpx

from tests.browser.conftest import Server
from tests.factories import Persona, web_session

SETTLE_SECONDS = 1.5  # how long an event that should not come is waited for
ARRIVE_SECONDS = 10.0  # how long an event that should come may take on a busy machine
# The stream re-checks its session at least every keepalive (15 s), at once before any event.
END_SECONDS = 25.0


@dataclass
class Stream:
    """`GET /events` read in a thread: every (event, data) as it arrives, and when it ended."""

    url: str
    cookie: str
    events: list[tuple[str, str]] = field(default_factory=list)
    ended: threading.Event = field(default_factory=threading.Event)
    ready: threading.Event = field(default_factory=threading.Event)

    def start(self) -> Stream:
        threading.Thread(target=self._read, daemon=True).start()
        assert self.ready.wait(ARRIVE_SECONDS), "the stream never said it was ready"
        return self

    def _read(self) -> None:
        try:
            with httpx.stream(
                "GET", self.url, cookies={"ticketry_session": self.cookie}, timeout=httpx.Timeout(60.0)
            ) as response:
                kind = ""
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        kind = line.partition(":")[2].strip()
                    elif line.startswith("data:") and kind:
                        self.events.append((kind, line.partition(":")[2].strip()))
                        if kind == "ready":
                            self.ready.set()
                        kind = ""
        except httpx.HTTPError:
            pass
        finally:
            self.ended.set()

    def after_ready(self) -> list[tuple[str, str]]:
        return [event for event in self.events if event[0] != "ready"]

    def wait_for_event(self) -> None:
        deadline = time.monotonic() + ARRIVE_SECONDS
        while not self.after_ready() and time.monotonic() < deadline:
            time.sleep(0.05)


def browser_cookie(server: Server, persona: Persona) -> tuple[str, str]:
    return web_session(server.db, persona)


def test_a_customers_stream_hears_only_what_their_page_shows(server: Server) -> None:
    department = server.department()
    customer, agent = server.customer(), server.agent(department)
    other_customer = server.customer()
    ticket = server.ticket(customer, department)
    elsewhere = server.ticket(other_customer, department)
    cookie, _ = browser_cookie(server, customer)
    stream = Stream(f"{server.url}/events?ticket={ticket.id}", cookie).start()

    # Staff-only work on the customer's ticket, and anything on another customer's ticket.
    server.api(agent, "POST", f"/api/v1/tickets/{ticket.id}/replies", {"message": "Note", "isInternal": True})
    server.api(agent, "POST", f"/api/v1/tickets/{ticket.id}/watch", {})
    server.api(agent, "PATCH", f"/api/v1/tickets/{ticket.id}", {"tags": ["vip"]})
    server.api(agent, "POST", f"/api/v1/tickets/{elsewhere.id}/replies", {"message": "Hello other customer"})
    agent_cookie, agent_csrf = browser_cookie(server, agent)
    presence = httpx.post(
        f"{server.url}/desk/tickets/{ticket.id}/presence",
        data={"state": "viewing", "csrf_token": agent_csrf},
        cookies={"ticketry_session": agent_cookie},
    )
    assert presence.status_code == 200, presence.text
    time.sleep(SETTLE_SECONDS)
    assert stream.after_ready() == [], "staff-only activity reached the customer's stream"

    # A public reply does come, on the customer's own channels only.
    server.api(agent, "POST", f"/api/v1/tickets/{ticket.id}/replies", {"message": "We are on it."})
    stream.wait_for_event()
    channels = {data for _, data in stream.after_ready()}
    assert channels and channels <= {f"ticket:{ticket.id}:public", f"customer:{customer.id}"}, channels


def test_the_stream_ends_when_the_customer_signs_out(server: Server) -> None:
    department = server.department()
    customer = server.customer()
    ticket = server.ticket(customer, department)
    cookie, csrf = browser_cookie(server, customer)
    stream = Stream(f"{server.url}/events?ticket={ticket.id}", cookie).start()
    signed_out = httpx.post(
        f"{server.url}/logout", data={"csrf_token": csrf}, cookies={"ticketry_session": cookie}
    )
    assert signed_out.status_code in (200, 303), signed_out.text
    assert stream.ended.wait(END_SECONDS), "the stream stayed open after sign-out"
    again = httpx.get(f"{server.url}/events", cookies={"ticketry_session": cookie})
    assert again.status_code == 401


def test_control_an_agents_stream_does_hear_notes_and_presence(server: Server) -> None:
    department = server.department()
    customer, agent, other = server.customer(), server.agent(department), server.agent(department)
    ticket = server.ticket(customer, department)
    cookie, _ = browser_cookie(server, agent)
    stream = Stream(f"{server.url}/events?ticket={ticket.id}", cookie).start()
    server.api(other, "POST", f"/api/v1/tickets/{ticket.id}/replies", {"message": "Note", "isInternal": True})
    stream.wait_for_event()
    assert f"ticket:{ticket.id}" in {data for _, data in stream.after_ready()}
