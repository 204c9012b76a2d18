"""Turning a notification into text and HTML, one template pair per audience.

The customer templates are rendered from `CustomerTicket` / `CustomerMessage` only: values
that have no field for staff data (assignee, tags, notes), so a customer mail cannot show what
its context does not hold. Autoescaped HTML; a message's body goes in as the sanitized HTML the
conversation already shows.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from ticketry.notifications.preferences import Kind

_env = Environment(
    loader=PackageLoader("ticketry.notifications", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    auto_reload=False,  # part of the installed code (web/templating.py)
)


@dataclass(frozen=True)
class CustomerTicket:
    number: str
    title: str
    status: str
    url: str


@dataclass(frozen=True)
class CustomerMessage:
    """A public reply: built only from a row `readable_messages(customer)` returned."""

    author: str
    text: str
    html: Markup


@dataclass(frozen=True)
class AgentTicket:
    number: str
    title: str
    status: str
    priority: str
    department: str
    customer: str
    assignee: str | None
    url: str


@dataclass(frozen=True)
class AgentMessage:
    author: str
    internal: bool
    text: str
    html: Markup


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Greeting:
    """One notification rendered once for all its recipients, their name left as a slot: `to()`
    fills it in as the templates would have (escaped in the HTML). The slot holds a NUL, which
    no stored text can hold (core.db), and a random part, so no text can fake it."""

    rendered: Rendered
    slot: str

    def to(self, name: str) -> Rendered:
        return Rendered(
            self.rendered.subject,
            self.rendered.text.replace(self.slot, name),
            self.rendered.html.replace(self.slot, str(escape(name))),
        )


def name_slot() -> str:
    return f"\x00{secrets.token_hex(8)}\x00"


def subject_for(number: str, title: str) -> str:
    """`[TICK-2026-0001] Printer on fire`: the same for every mail of a ticket, so clients that
    thread by subject agree with those that thread by References."""
    return f"[{number}] {title}"


def render_customer(
    kind: Kind,
    *,
    name: str,
    ticket: CustomerTicket,
    message: CustomerMessage | None = None,
    merged_into: CustomerTicket | None = None,
) -> Rendered:
    """`merged_into` (for `ticket_merged`) is set only when the customer may read that ticket."""
    context = {
        "kind": kind.value,
        "name": name,
        "ticket": ticket,
        "message": message,
        "merged_into": merged_into,
    }
    return Rendered(
        subject_for(ticket.number, ticket.title),
        _env.get_template("customer.txt").render(context),
        _env.get_template("customer.html").render(context),
    )


def render_agent(
    kind: Kind,
    *,
    name: str,
    ticket: AgentTicket,
    message: AgentMessage | None = None,
    change: str | None = None,
) -> Rendered:
    context = {"kind": kind.value, "name": name, "ticket": ticket, "message": message, "change": change}
    return Rendered(
        subject_for(ticket.number, ticket.title),
        _env.get_template("agent.txt").render(context),
        _env.get_template("agent.html").render(context),
    )


def greet_agents(
    kind: Kind, *, ticket: AgentTicket, message: AgentMessage | None = None, change: str | None = None
) -> Greeting:
    """`render_agent` once for every agent told of one event."""
    slot = name_slot()
    return Greeting(render_agent(kind, name=slot, ticket=ticket, message=message, change=change), slot)
