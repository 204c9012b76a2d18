"""The ticket list's query (`search.query`): one reading of the query string for the API list,
the desk list, saved views and exports. Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ticketry.auth.actor import Actor
from ticketry.auth.permissions import ROLE_PERMISSIONS
from ticketry.core.errors import PermissionDenied, ValidationFailed
from ticketry.core.pagination import PageRequest
from ticketry.search.query import API, DESK, ListQuery, canonical, params_of, parse_list_query
from ticketry.search.service import Assigned, DeskView, SortField, TagMode, TicketFilters
from ticketry.tickets import lifecycle
from ticketry.tickets.models import Priority, Source, TicketStatus
from ticketry.users.models import Role


def actor(role: Role = Role.AGENT) -> Actor:
    return Actor(
        user_id=7,
        name="Ann",
        email="ann@example.com",
        role=role,
        organization_id=None,
        organization_shared=False,
        department_ids=frozenset({1}),
        permissions=ROLE_PERMISSIONS[role],
    )


def parse(query: str) -> ListQuery:
    return parse_list_query(actor(), params_of(query), defaults=DESK)


def test_every_filter_is_read() -> None:
    read = parse(
        "view=all&status=open&status=on_hold&priority=high&department=billing&category=3"
        "&assignee=me&customer=12&tag=VIP&tag=refund&tag_mode=any&source=email"
        "&created_from=2026-01-01&created_to=2026-01-31&q=printer&sort=priority&order=asc"
    )
    f = read.filters
    assert read.view is DeskView.ALL
    assert list(f.statuses) == [TicketStatus.OPEN, TicketStatus.ON_HOLD]
    assert list(f.priorities) == [Priority.HIGH]
    assert list(f.departments) == ["billing"]
    assert (f.category_id, f.customer_id, f.assigned_to) == (3, 12, Assigned.ME)
    assert list(f.tags) == ["VIP", "refund"] and f.tag_mode is TagMode.ANY
    assert f.source is Source.EMAIL and f.q == "printer"
    assert f.created_from == datetime(2026, 1, 1, tzinfo=UTC)
    assert f.created_to is not None and f.created_to.date().isoformat() == "2026-01-31"
    assert read.sort.field is SortField.PRIORITY and not read.sort.descending
    assert read.narrowed


def test_empty_values_mean_any_and_the_view_supplies_its_own_filters() -> None:
    read = parse("view=queue&status=&priority=&assignee=&q=")
    assert not read.narrowed
    assert set(read.filters.statuses) == set(lifecycle.ACTIVE_STATUSES)
    assert read.filters.assigned_to is Assigned.NONE and read.filters.in_my_departments
    assert read.sort.field is SortField.UPDATED_AT and read.sort.descending


def test_the_watched_view_filters_on_watching() -> None:
    read = parse("view=watched")
    assert read.filters.watched_by_me and not read.narrowed


@pytest.mark.parametrize(
    "query",
    [
        "status=nonsense",
        "view=everything",
        "category=abc",
        "assignee=someone",
        "created_from=2026-13-01",
        "tag_mode=some",
        "sort=title",
        "q=" + "x" * 201,
        "&".join(["tag=a"] * 51),
    ],
)
def test_a_wrong_value_is_a_422_naming_it(query: str) -> None:
    with pytest.raises(ValidationFailed):
        parse(query)


def test_customers_cannot_use_desk_views() -> None:
    with pytest.raises(PermissionDenied):
        parse_list_query(actor(Role.CUSTOMER), params_of("view=all"), defaults=API)


def test_canonical_keeps_only_list_parameters_in_a_stable_order() -> None:
    params = params_of("page=3&q=printer&status=&tag=b&tag=a&view=all&evil=1&sort=number")
    assert canonical(params) == "view=all&tag=b&tag=a&q=printer&sort=number"
    assert canonical(params_of(canonical(params))) == canonical(params)


def test_a_huge_query_string_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        params_of("q=" + "x" * 5000)


def test_the_api_and_the_desk_differ_only_in_their_defaults() -> None:
    api = parse_list_query(actor(), params_of(""), defaults=API)
    desk = parse("")
    assert api.view is None and api.filters == TicketFilters()
    assert api.sort.field is SortField.CREATED_AT and desk.sort.field is SortField.UPDATED_AT
    assert desk.view is DeskView.QUEUE and desk.filters.in_my_departments
    said = "status=open,closed&assigned_to=unassigned&sort=number&order=asc&page=2&page_size=10"
    api, desk = parse_list_query(actor(), params_of(said), defaults=API), parse("view=all&" + said)
    assert api.filters == desk.filters and api.sort == desk.sort and api.page == desk.page
    assert api.page == PageRequest(page=2, page_size=10)


def test_the_desks_older_names_are_aliases() -> None:
    old, new = parse("assignee=12&customer=7"), parse("assigned_to=12&customer_id=7")
    assert old.filters == new.filters and (old.filters.assigned_to, old.filters.customer_id) == (12, 7)
    assert canonical(params_of("customer=7&assignee=me&view=all")) == "view=all&assigned_to=me&customer_id=7"


def test_a_day_is_the_whole_day_and_a_moment_is_exact() -> None:
    read = parse("created_from=2026-01-01&created_to=2026-01-31&updated_from=2026-01-05T10:30:00%2B02:00")
    assert read.filters.created_from == datetime(2026, 1, 1, tzinfo=UTC)
    assert read.filters.created_to == datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert read.filters.updated_from == datetime(2026, 1, 5, 8, 30, tzinfo=UTC)
    naive = parse("resolved_to=2026-01-05T10:30")
    assert naive.filters.resolved_to == datetime(2026, 1, 5, 10, 30, tzinfo=UTC)


def test_flags_read_like_the_api_read_them() -> None:
    assert parse("watched=true").filters.watched_by_me and parse("watched=1").filters.watched_by_me
    assert not parse("view=all&watched=false").filters.watched_by_me
    with pytest.raises(ValidationFailed):
        parse("watched=maybe")


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("page=0", "page", "'page' is a whole number from 1 to 100000."),
        ("page=100001", "page", "'page' is a whole number from 1 to 100000."),
        ("page_size=101", "page_size", "'page_size' is a whole number from 1 to 100."),
        ("category=0", "category", "'category' is a whole number from 1 to 2147483647."),
        ("customer=abc", "customer_id", "'customer_id' is a whole number from 1 to 2147483647."),
        ("tag=" + "x" * 51, "tag", "'tag' is at most 50 characters."),
        ("created_to=0001-01-01T00:00%2B05:00", "created_to", "'created_to' is a date (YYYY-MM-DD) or"),
        ("order=up", "order", "Unknown order: use one of asc, desc."),
        ("q=a%00b", "q", "Control characters are not allowed (found U+0000)."),
    ],
)
def test_each_refusal_names_its_parameter(query: str, field: str, message: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse(query)
    assert refused.value.details["field"] == field
    assert refused.value.message.startswith(message)
