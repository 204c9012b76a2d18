"""The desk's list query: one reading of `view=…&status=…&tag=…&sort=…` for every place that
takes it (the desk list, saved views and their counts, exports), so a saved view or an export
always shows exactly the tickets the list showed."""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TypeVar
from urllib.parse import parse_qs, urlencode

from ticketry.auth.actor import Actor
from ticketry.core.clock import as_utc
from ticketry.core.errors import ValidationFailed
from ticketry.core.schemas import control_character_message, first_control_character
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

# Every parameter the desk list understands; anything else in a query string is ignored.
KEYS = (
    "view",
    "status",
    "priority",
    "department",
    "category",
    "assignee",
    "customer",
    "tag",
    "tag_mode",
    "source",
    "created_from",
    "created_to",
    "q",
    "sort",
    "order",
)
# The ones that narrow the view (sort, order and the view itself do not).
FILTER_KEYS = frozenset(KEYS) - {"view", "sort", "order", "tag_mode"}
MAX_VALUES = 50
MAX_QUERY_LENGTH = 4000


@dataclass(frozen=True)
class ListQuery:
    view: DeskView
    filters: TicketFilters
    sort: TicketSort
    # Whether the user narrowed the view with filters of their own.
    narrowed: bool


def params_of(query_string: str) -> dict[str, list[str]]:
    """A stored or requested query string as the parser takes it."""
    if len(query_string) > MAX_QUERY_LENGTH:
        raise ValidationFailed("The filter is too long.", details={"maxLength": MAX_QUERY_LENGTH})
    params = parse_qs(query_string, keep_blank_values=True)
    # A stored view's `%00` decodes only here: the request's own check never saw it (issue 12).
    found = first_control_character(params, multiline=False)
    if found is not None:
        raise ValidationFailed(control_character_message(found), details={"field": "query"})
    return params


def canonical(params: Params) -> str:
    """The query string of just the list's parameters, empty values dropped, in a stable order:
    what a saved view stores."""
    pairs = [(key, value) for key in KEYS for value in params.get(key, ()) if value]
    return urlencode(pairs)


def parse_list_query(actor: Actor, params: Params) -> ListQuery:
    """Read the desk's parameters. Empty values mean "any" (the form's "Any" options send them);
    a value that is present but wrong is a 422 naming the parameter."""
    for key in KEYS:
        if len(params.get(key, ())) > MAX_VALUES:
            raise ValidationFailed(f"Too many values for '{key}'.", details={"field": key})
    view = _one_enum(DeskView, params, "view") or DeskView.QUEUE
    base = view_filters(actor, view)
    statuses = _enums(TicketStatus, params, "status")
    priorities = _enums(Priority, params, "priority")
    departments = [d for d in _values(params, "department") if len(d) <= 50]
    assignee = _assignee(_one(params, "assignee"))
    q = _one(params, "q")
    if len(q) > 200:
        raise ValidationFailed("The search is at most 200 characters.", details={"field": "q"})
    tags = [t for t in _values(params, "tag") if len(t) <= 50]
    filters = TicketFilters(
        statuses=statuses or base.statuses,
        priorities=priorities,
        departments=departments,
        category_id=_id(params, "category"),
        assigned_to=assignee or base.assigned_to,
        customer_id=_id(params, "customer"),
        source=_one_enum(Source, params, "source"),
        tags=tags,
        tag_mode=_one_enum(TagMode, params, "tag_mode") or TagMode.ALL,
        created_from=_day(params, "created_from", end=False),
        created_to=_day(params, "created_to", end=True),
        updated_from=base.updated_from,
        q=q or None,
        watched_by_me=base.watched_by_me,
        in_my_departments=base.in_my_departments,
    )
    sort = TicketSort(
        _one_enum(SortField, params, "sort") or SortField.UPDATED_AT,
        descending=_one(params, "order") != "asc",
    )
    narrowed = any(value for key in FILTER_KEYS for value in params.get(key, ()))
    return ListQuery(view=view, filters=filters, sort=sort, narrowed=narrowed)


def _values(params: Params, key: str) -> list[str]:
    return [value.strip() for value in params.get(key, ()) if value.strip()]


def _one(params: Params, key: str) -> str:
    values = _values(params, key)
    return values[-1] if values else ""


E = TypeVar("E", bound=enum.StrEnum)


def _enums(kind: type[E], params: Params, key: str) -> list[E]:
    try:
        return [kind(value) for value in _values(params, key)]
    except ValueError as error:
        allowed = [member.value for member in kind]
        raise ValidationFailed(f"Unknown {key}.", details={"field": key, "allowed": allowed}) from error


def _one_enum(kind: type[E], params: Params, key: str) -> E | None:
    values = _enums(kind, params, key)
    return values[-1] if values else None


def _id(params: Params, key: str) -> int | None:
    value = _one(params, key)
    if not value:
        return None
    if not (value.isascii() and value.isdigit() and len(value) < 10):
        raise ValidationFailed(f"'{key}' is an id.", details={"field": key})
    return int(value)


def _assignee(value: str) -> int | Assigned | None:
    if not value:
        return None
    if value in ("me", "none"):
        return Assigned(value)
    if value.isascii() and value.isdigit() and len(value) < 10:
        return int(value)
    raise ValidationFailed("'assignee' is an agent id, 'me' or 'none'.", details={"field": "assignee"})


def _day(params: Params, key: str, *, end: bool) -> datetime | None:
    value = _one(params, key)
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError as error:
        raise ValidationFailed(f"'{value}' is not a date (YYYY-MM-DD).", details={"field": key}) from error
    return as_utc(datetime.combine(day, time.max if end else time.min))
