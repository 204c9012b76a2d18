"""The ticket list's query string, read in one place (issue 14, B.3) for every door that takes it:
`GET /tickets` and its exports, the desk list and its exports, saved views (what they store,
their counts, their tickets). One set of names, bounds and messages, so a filter means the same
wherever it is written, and a bad one is the same 422 wherever it is sent.

`PARAMETERS` is the table: each name, what it takes and its bounds; the API documents its list
from it (`api.list_query`). The desk once spelled two names its own way; `assignee` (now
`assigned_to`) and `customer` (now `customer_id`) are still read, as aliases, because saved
views and bookmarked desk links carry them. What a saved view stores is `canonical`: the table's
names in the table's order, empty values dropped.

The doors differ only in their defaults (`API`, `DESK`): the desk opens on the agent's queue
sorted by last update; the API lists everything the caller may see, newest first.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import TypeVar
from urllib.parse import parse_qs, urlencode

from pydantic import TypeAdapter

from ticketry.auth.actor import Actor
from ticketry.core.clock import as_utc
from ticketry.core.errors import ValidationFailed
from ticketry.core.pagination import MAX_PAGE, MAX_PAGE_SIZE, PageRequest
from ticketry.core.schemas import MAX_ID, control_character_message, first_control_character
from ticketry.search.service import (
    Assigned,
    DeskView,
    SortField,
    TagMode,
    TicketFilters,
    TicketSort,
    view_filters,
)
from ticketry.tickets.models import Priority, Source, TicketStatus

Params = Mapping[str, Sequence[str]]

MAX_QUERY_LENGTH = 4000
MAX_VALUES = 50


class Order(enum.StrEnum):
    ASC = "asc"
    DESC = "desc"


class Takes(enum.Enum):
    """What a parameter's values are."""

    ONE_OF = "one of the choices"
    SOME_OF = "some of the choices, repeated or comma-separated"
    TEXTS = "texts, repeated or comma-separated"
    TEXT = "a text"
    ID = "an id"
    AGENT = "an agent id, me or none"
    MOMENT = "a date or a date and time"
    FLAG = "true or false"
    NUMBER = "a whole number"


@dataclass(frozen=True)
class Parameter:
    name: str
    takes: Takes
    help: str
    choices: tuple[str, ...] = ()
    max_length: int = 0
    low: int = 1
    high: int = MAX_ID
    # Older spellings, still read.
    aliases: tuple[str, ...] = ()
    # Part of the filter, kept by a saved view (not so the page being looked at).
    kept: bool = True
    # Narrows the list (sort, order, tag_mode and the view itself do not).
    narrows: bool = True


def _values(kind: type[enum.StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in kind)


_MOMENT_HELP = "A date (YYYY-MM-DD: the whole day) or a date and time (ISO 8601; UTC unless it says)."
PARAMETERS = (
    Parameter(
        "view",
        Takes.ONE_OF,
        "Staff: start from a desk view (queue: unassigned in your departments; mine; watched; open; "
        "recent: updated in the last 7 days; all); the other filters narrow it.",
        choices=_values(DeskView),
        narrows=False,
    ),
    Parameter("status", Takes.SOME_OF, "One or more statuses.", choices=_values(TicketStatus)),
    Parameter("priority", Takes.SOME_OF, "One or more priorities.", choices=_values(Priority)),
    Parameter("department", Takes.TEXTS, "Department ids, slugs or names.", max_length=100),
    Parameter("category", Takes.ID, "A category id."),
    Parameter("assigned_to", Takes.AGENT, "Staff: an agent id, 'me' or 'none'.", aliases=("assignee",)),
    Parameter("customer_id", Takes.ID, "A customer's user id.", aliases=("customer",)),
    Parameter("organization_id", Takes.ID, "Tickets of that organization's members."),
    Parameter("source", Takes.ONE_OF, "Where the ticket came from.", choices=_values(Source)),
    Parameter("tag", Takes.TEXTS, "Staff: one or more tag names.", max_length=50),
    Parameter(
        "tag_mode",
        Takes.ONE_OF,
        "Several tags: tickets with all of them (default), or any.",
        choices=_values(TagMode),
        narrows=False,
    ),
    Parameter("watched", Takes.FLAG, "Staff: only tickets you watch."),
    Parameter("created_from", Takes.MOMENT, _MOMENT_HELP),
    Parameter("created_to", Takes.MOMENT, _MOMENT_HELP),
    Parameter("updated_from", Takes.MOMENT, _MOMENT_HELP),
    Parameter("updated_to", Takes.MOMENT, _MOMENT_HELP),
    Parameter("resolved_from", Takes.MOMENT, _MOMENT_HELP),
    Parameter("resolved_to", Takes.MOMENT, _MOMENT_HELP),
    Parameter(
        "q",
        Takes.TEXT,
        "Full text over number, title, description and the messages you may read.",
        max_length=200,
    ),
    Parameter("deleted", Takes.FLAG, "Admins: list deleted tickets instead."),
    Parameter(
        "sort",
        Takes.ONE_OF,
        "Default created_at (the desk: updated_at).",
        choices=_values(SortField),
        narrows=False,
    ),
    Parameter("order", Takes.ONE_OF, "Default desc.", choices=_values(Order), narrows=False),
    Parameter("page", Takes.NUMBER, "From 1.", high=MAX_PAGE, kept=False, narrows=False),
    Parameter(
        "page_size",
        Takes.NUMBER,
        f"Default {PageRequest.page_size}.",
        high=MAX_PAGE_SIZE,
        kept=False,
        narrows=False,
    ),
)
BY_NAME = {parameter.name: parameter for parameter in PARAMETERS}
_SPLIT = frozenset({Takes.SOME_OF, Takes.TEXTS})


@dataclass(frozen=True)
class Defaults:
    """What an entry point shows when the query string does not say."""

    view: DeskView | None
    sort: SortField


API = Defaults(view=None, sort=SortField.CREATED_AT)
DESK = Defaults(view=DeskView.QUEUE, sort=SortField.UPDATED_AT)


@dataclass(frozen=True)
class ListQuery:
    view: DeskView | None
    filters: TicketFilters
    sort: TicketSort
    page: PageRequest
    # Whether the user narrowed the view with filters of their own.
    narrowed: bool


def params_of(query_string: str) -> dict[str, list[str]]:
    """A stored or requested query string as the parser takes it."""
    if len(query_string) > MAX_QUERY_LENGTH:
        raise ValidationFailed(
            f"The list's query string is at most {MAX_QUERY_LENGTH} characters.",
            details={"field": "query", "maxLength": MAX_QUERY_LENGTH},
        )
    params = parse_qs(query_string, keep_blank_values=True)
    # A stored view's `%00` decodes only here: the request's own check never saw it (issue 12).
    for name, values in params.items():
        found = first_control_character([name, *values], multiline=False)
        if found is not None:
            field = "query" if first_control_character(name, multiline=False) else name[:50]
            raise ValidationFailed(control_character_message(found), details={"field": field})
    return params


def spelled(params: Params) -> list[tuple[str, str]]:
    """The list's parameters under their names, in the table's order: values trimmed, lists split
    at commas, empty values and other parameters dropped. Nothing is checked here."""
    pairs: list[tuple[str, str]] = []
    for parameter in PARAMETERS:
        for name in (parameter.name, *parameter.aliases):
            for value in params.get(name, ()):
                parts = value.split(",") if parameter.takes in _SPLIT else [value]
                pairs += [(parameter.name, part.strip()) for part in parts if part.strip()]
    return pairs


def canonical(params: Params) -> str:
    """The filter as a saved view stores it: `spelled`, without the page."""
    return urlencode([(name, value) for name, value in spelled(params) if BY_NAME[name].kept])


def read_list_query(actor: Actor, query_string: str, *, defaults: Defaults) -> ListQuery:
    return parse_list_query(actor, params_of(query_string), defaults=defaults)


def parse_list_query(actor: Actor, params: Params, *, defaults: Defaults) -> ListQuery:
    """Read the list's parameters. Empty values mean "any" (the desk form's "Any" options send
    them); a value that is present but wrong is a 422 naming the parameter."""
    read = _Reader(spelled(params))
    view = read.one_of("view", DeskView) or defaults.view
    base = view_filters(actor, view) if view is not None else TicketFilters()
    filters = TicketFilters(
        statuses=read.some_of("status", TicketStatus) or base.statuses,
        priorities=read.some_of("priority", Priority),
        departments=read.texts("department"),
        category_id=read.id("category"),
        assigned_to=read.agent("assigned_to") or base.assigned_to,
        customer_id=read.id("customer_id"),
        organization_id=read.id("organization_id"),
        source=read.one_of("source", Source),
        tags=read.texts("tag"),
        tag_mode=read.one_of("tag_mode", TagMode) or TagMode.ALL,
        created_from=read.moment("created_from"),
        created_to=read.moment("created_to", end=True),
        updated_from=read.moment("updated_from") or base.updated_from,
        updated_to=read.moment("updated_to", end=True),
        resolved_from=read.moment("resolved_from"),
        resolved_to=read.moment("resolved_to", end=True),
        q=read.text("q"),
        deleted=read.flag("deleted"),
        watched_by_me=read.flag("watched") or base.watched_by_me,
        in_my_departments=base.in_my_departments,
    )
    sort = TicketSort(
        read.one_of("sort", SortField) or defaults.sort,
        descending=read.one_of("order", Order) is not Order.ASC,
    )
    page = PageRequest(
        page=read.number("page") or 1, page_size=read.number("page_size") or PageRequest.page_size
    )
    return ListQuery(view=view, filters=filters, sort=sort, page=page, narrowed=read.narrowed)


E = TypeVar("E", bound=enum.StrEnum)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# The API read its dates with pydantic before; the same reading keeps every form it took.
_MOMENT = TypeAdapter(datetime)
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def _refused(name: str, message: str, **details: object) -> ValidationFailed:
    return ValidationFailed(message, details={"field": name, **details})


class _Reader:
    """Typed values of the spelled parameters, each checked against its row of the table."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in pairs:
            self._values.setdefault(name, []).append(value)
        for name, values in self._values.items():
            if len(values) > MAX_VALUES:
                raise _refused(name, f"At most {MAX_VALUES} values for '{name}'.")
            limit = BY_NAME[name].max_length
            if limit and any(len(value) > limit for value in values):
                raise _refused(name, f"'{name}' is at most {limit} characters.", maxLength=limit)
        self.narrowed = any(BY_NAME[name].narrows for name in self._values)

    def texts(self, name: str) -> tuple[str, ...]:
        return tuple(self._values.get(name, ()))

    def text(self, name: str) -> str | None:
        values = self.texts(name)
        return values[-1] if values else None

    def some_of(self, name: str, kind: type[E]) -> tuple[E, ...]:
        try:
            return tuple(kind(value) for value in self.texts(name))
        except ValueError as error:
            allowed = BY_NAME[name].choices
            raise _refused(
                name, f"Unknown {name}: use one of {', '.join(allowed)}.", allowed=list(allowed)
            ) from error

    def one_of(self, name: str, kind: type[E]) -> E | None:
        values = self.some_of(name, kind)
        return values[-1] if values else None

    def number(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        parameter = BY_NAME[name]
        if not (value.isascii() and value.isdigit() and parameter.low <= int(value) <= parameter.high):
            raise _refused(name, f"'{name}' is a whole number from {parameter.low} to {parameter.high}.")
        return int(value)

    def id(self, name: str) -> int | None:
        return self.number(name)

    def agent(self, name: str) -> int | Assigned | None:
        value = self.text(name)
        if value is None:
            return None
        if value.lower() in ("me", "none", "unassigned"):
            return Assigned.ME if value.lower() == "me" else Assigned.NONE
        if value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ID:
            return int(value)
        raise _refused(name, f"'{name}' is an agent id, 'me' or 'none'.")

    def flag(self, name: str) -> bool:
        value = self.text(name)
        if value is None or value.lower() in _FALSE:
            return False
        if value.lower() in _TRUE:
            return True
        raise _refused(name, f"'{name}' is true or false.")

    def moment(self, name: str, *, end: bool = False) -> datetime | None:
        """A day means all of it: from its first moment, or to its last."""
        value = self.text(name)
        if value is None:
            return None
        try:
            if _DAY.fullmatch(value):
                return datetime.combine(date.fromisoformat(value), time.max if end else time.min, UTC)
            return as_utc(_MOMENT.validate_python(value))
        except (ValueError, OverflowError) as error:
            raise _refused(name, f"'{name}' is a date (YYYY-MM-DD) or a date and time (ISO 8601).") from error
