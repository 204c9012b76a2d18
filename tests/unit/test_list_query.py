"""The desk's list query (`search.query`): one reading of the query string for the desk list,
saved views and exports. Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ticketry.auth.actor import Actor
from ticketry.auth.permissions import ROLE_PERMISSIONS
from ticketry.core.errors import PermissionDenied, ValidationFailed
from ticketry.search.query import ListQuery, canonical, params_of, parse_list_query
from ticketry.search.service import Assigned, DeskView, SortField, TagMode
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
    return parse_list_query(actor(), params_of(query))


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
        parse_list_query(actor(Role.CUSTOMER), params_of("view=all"))


def test_canonical_keeps_only_list_parameters_in_a_stable_order() -> None:
    params = params_of("page=3&q=printer&status=&tag=b&tag=a&view=all&evil=1&sort=number")
    assert canonical(params) == "view=all&tag=b&tag=a&q=printer&sort=number"
    assert canonical(params_of(canonical(params))) == canonical(params)


def test_a_huge_query_string_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        params_of("q=" + "x" * 5000)
