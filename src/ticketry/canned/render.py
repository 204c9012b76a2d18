"""The sandboxed renderer of canned replies: `{{ dotted.name }}` looked up in an allow-listed
mapping of plain strings, and nothing else (docs/product.md §3, "rendered safely").

Deliberately not a template engine: there is no attribute access, no expression, no filter, no
statement. A placeholder naming anything outside `VARIABLES` (`{{ settings.secret_key }}`,
`{{ ticket.__class__ }}`), a statement (`{% … %}`) or a comment (`{# … #}`) renders as nothing and
is reported, so saving can warn about it. Values are inserted once and never scanned again, so a
customer named `{{agent.email}}` stays just that text. Pure: no I/O, no ORM objects.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# The whole allow-list, with what each variable holds (shown to agents as help).
VARIABLES: dict[str, str] = {
    "customer.name": "The customer's full name",
    "customer.first_name": "The customer's first name",
    "customer.email": "The customer's e-mail address",
    "ticket.number": "The ticket number, e.g. TICK-2026-0042",
    "ticket.title": "The ticket's subject",
    "ticket.status": "The ticket's status, e.g. In progress",
    "ticket.priority": "The ticket's priority, e.g. High",
    "ticket.department": "The ticket's department",
    "agent.name": "Your name",
    "agent.email": "Your e-mail address",
}

# One pass, left to right: a statement or comment, or a placeholder (its inside in group 1).
# Statements are bounded in length so a body full of unclosed `{%` stays linear to scan.
_TOKEN = re.compile(r"\{%.{0,1000}?%\}|\{#.{0,1000}?#\}|\{\{([^{}]*)\}\}", re.DOTALL)
_SPACE = re.compile(r"\s+")
_MAX_REPORTED = 120


@dataclass(frozen=True)
class Rendered:
    text: str
    # What the template asked for that is not allowed, in order of appearance, each once.
    unknown: tuple[str, ...]


def _shown(raw: str) -> str:
    """How an unknown placeholder is reported: its inside, whitespace collapsed, bounded."""
    return _SPACE.sub(" ", raw).strip()[:_MAX_REPORTED]


def render(template: str, context: Mapping[str, str]) -> Rendered:
    """Fill the allow-listed placeholders from `context`; everything else becomes ""."""
    unknown: dict[str, None] = {}

    def replace(match: re.Match[str]) -> str:
        inside = match.group(1)
        if inside is None:  # a statement or comment
            unknown[_shown(match.group(0))] = None
            return ""
        name = inside.strip()
        if name in VARIABLES:
            return context.get(name, "")
        unknown[_shown(inside) or "{{}}"] = None
        return ""

    text = _TOKEN.sub(replace, template)
    return Rendered(text=text, unknown=tuple(unknown))


def unknown_variables(template: str) -> list[str]:
    """What saving this template should warn about (the same reading `render` does)."""
    return list(render(template, {}).unknown)
