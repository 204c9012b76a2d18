"""Ticket lists: every filter of docs/product.md §3 combined, sorted, paginated, visibility first."""

from __future__ import annotations

import enum
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from functools import partial
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import ColumnElement, Row, Select, SQLColumnExpression, case, select
from sqlalchemy.orm import Session

from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.core.clock import now
from ticketry.core.db import Selected, among
from ticketry.core.pagination import Page, PageRequest, count_rows
from ticketry.core.recent import RecentAnswers
from ticketry.search import fulltext
from ticketry.search.rows import CUSTOMER_UPDATED, ListedTicket, listed, listed_tickets
from ticketry.tickets import lifecycle
from ticketry.tickets.models import (
    Priority,
    Source,
    Tag,
    Ticket,
    TicketStatus,
    ticket_tags,
    ticket_watchers,
)
from ticketry.tickets.repository import readable_tickets
from ticketry.users import service as users
from ticketry.users.models import Department, User


class SortField(enum.StrEnum):
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    PRIORITY = "priority"
    STATUS = "status"
    NUMBER = "number"


class Assigned(enum.StrEnum):
    ME = "me"
    NONE = "none"


class TagMode(enum.StrEnum):
    """Several tags: tickets with every one of them, or with any of them."""

    ALL = "all"
    ANY = "any"


@dataclass(frozen=True)
class TicketFilters:
    statuses: Sequence[TicketStatus] = ()
    priorities: Sequence[Priority] = ()
    departments: Sequence[str] = ()
    category_id: int | None = None
    assigned_to: int | Assigned | None = None
    customer_id: int | None = None
    organization_id: int | None = None
    source: Source | None = None
    tags: Sequence[str] = ()
    tag_mode: TagMode = TagMode.ALL
    created_from: datetime | None = None
    created_to: datetime | None = None
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    resolved_from: datetime | None = None
    resolved_to: datetime | None = None
    q: str | None = None
    deleted: bool = False
    watched_by_me: bool = False
    in_my_departments: bool = False


@dataclass(frozen=True)
class TicketSort:
    field: SortField = SortField.CREATED_AT
    descending: bool = True


def _rank(column: ColumnElement[str], order: Sequence[enum.StrEnum]) -> ColumnElement[int]:
    return case({value.value: index for index, value in enumerate(order)}, value=column, else_=len(order))


# Built once: every list query orders by one of them.
_PRIORITY_RANK = _rank(Ticket.priority, list(Priority))  # type: ignore[arg-type]
_STATUS_RANK = _rank(Ticket.status, list(lifecycle.STATUS_ORDER))  # type: ignore[arg-type]


def updated_column(actor: Actor) -> ColumnElement[Any]:
    """ "Updated" as the actor's side knows it: customers never sort or filter by staff-only work
    (a note would otherwise move their ticket up their list; see `tickets.changes`)."""
    if actor.is_staff:
        return Ticket.updated_at  # type: ignore[return-value]
    return CUSTOMER_UPDATED


def ticket_order(
    sort: TicketSort, *, updated: ColumnElement[Any] | None = None
) -> list[SQLColumnExpression[Any]]:
    column: SQLColumnExpression[Any] = {
        SortField.CREATED_AT: Ticket.created_at,
        SortField.UPDATED_AT: Ticket.updated_at if updated is None else updated,
        SortField.NUMBER: Ticket.id,
        SortField.PRIORITY: _PRIORITY_RANK,
        SortField.STATUS: _STATUS_RANK,
    }[sort.field]
    tiebreak = Ticket.id.desc() if sort.descending else Ticket.id.asc()
    return [column.desc() if sort.descending else column.asc(), tiebreak]


def filtered_tickets(session: Session, actor: Actor, filters: TicketFilters) -> Select[Ticket]:
    """The select of every ticket matching the filters that the actor may see."""
    if filters.assigned_to is not None or filters.tags:
        # Assignee and tags are staff-only (docs/product.md §1): filtering by them would reveal them.
        require(actor, Permission.TICKETS_VIEW_INTERNAL)
    query = readable_tickets(actor, include_deleted=filters.deleted)
    if filters.deleted and actor.can(Permission.TICKETS_DELETE):
        query = query.where(Ticket.deleted_at.is_not(None))
    if filters.statuses:
        query = query.where(Ticket.status.in_(list(filters.statuses)))
    if filters.priorities:
        query = query.where(Ticket.priority.in_(list(filters.priorities)))
    if filters.departments:
        ids = sorted({users.find_department(session, ref).id for ref in filters.departments})
        query = query.where(Ticket.department_id.in_(ids))
    if filters.in_my_departments and not (
        actor.can(Permission.TICKETS_VIEW_ALL) and not actor.department_ids
    ):
        # An admin outside every department sees the whole queue.
        query = query.where(Ticket.department_id.in_(sorted(actor.department_ids)))
    if filters.category_id is not None:
        query = query.where(Ticket.category_id == filters.category_id)
    if filters.assigned_to is Assigned.ME:
        query = query.where(Ticket.assignee_id == actor.user_id)
    elif filters.assigned_to is Assigned.NONE:
        query = query.where(Ticket.assignee_id.is_(None))
    elif isinstance(filters.assigned_to, int):
        query = query.where(Ticket.assignee_id == filters.assigned_to)
    if filters.customer_id is not None:
        query = query.where(Ticket.customer_id == filters.customer_id)
    if filters.organization_id is not None:
        members = select(User.id).where(User.organization_id == filters.organization_id).correlate(None)
        query = query.where(Ticket.customer_id.in_(members))
    if filters.source is not None:
        query = query.where(Ticket.source == filters.source)
    names = sorted({t.strip().lower() for t in filters.tags if t.strip()})
    groups = [names] if filters.tag_mode is TagMode.ANY and names else [[name] for name in names]
    for group in groups:
        tagged = (
            select(ticket_tags.c.ticket_id)
            .join(Tag, Tag.id == ticket_tags.c.tag_id)
            .where(Tag.name.in_(group))
            .correlate(None)
        )
        query = query.where(among(Ticket.id, tagged))
    if filters.watched_by_me:
        watched = (
            select(ticket_watchers.c.ticket_id)
            .where(ticket_watchers.c.user_id == actor.user_id)
            .correlate(None)
        )
        query = query.where(among(Ticket.id, watched))
    for column, low, high in (
        (Ticket.created_at, filters.created_from, filters.created_to),
        (updated_column(actor), filters.updated_from, filters.updated_to),
        (Ticket.resolved_at, filters.resolved_from, filters.resolved_to),
    ):
        if low is not None:
            query = query.where(column >= low)
        if high is not None:
            query = query.where(column <= high)
    if filters.q:
        match = fulltext.matching(session, actor, filters.q)
        if match is not None:
            query = query.where(match)
    return query


# A list's total is counted up to here: past that, "1,000+" (40 pages) is what a reader needs,
# not a count of a million. Counting an agent's 10,000 open tickets instead took two thirds of a
# desk page at 100,000 tickets on SQLite (45 of 67 ms).
T = TypeVar("T")

LIST_TOTAL_CAP = 1_000
# A search's total, lower: "200+" (8 pages) already says "say more", and counting a match costs
# more than counting a ticket (its document is read and tested). At a million tickets on
# PostgreSQL the count to 1,001 took 90-106 ms for a word in about 8 % of tickets and 49-55 ms for
# two common words; to 201, 20-25 and 9-13 (bench/README.md, "Bounds").
SEARCH_TOTAL_CAP = 200


def find_tickets(
    session: Session, actor: Actor, *, filters: TicketFilters, sort: TicketSort, page: PageRequest
) -> Page[ListedTicket]:
    query = filtered_tickets(session, actor, filters)
    if _searching(filters, page):
        found = _searched(
            session, actor, query, filters, sort, page, lambda t: listed(t, staff=actor.is_staff)
        )
        return Page(listed_tickets(actor, found.items), found.total, page, capped=found.capped)
    # The page's tickets first, then their related names, in one statement (one snapshot).
    # Joined before the limit, PostgreSQL looked up the names of every ticket it sorted: the
    # desk's "All open" at a million tickets took 7.9 ms, 4.2 so, 1.8 with migration 0017.
    on_page = _paged(_ids(query), actor, sort, page).correlate(None)
    shown = listed(select(Ticket).where(Ticket.id.in_(on_page)), staff=actor.is_staff)
    rows = session.execute(_ordered(shown, actor, sort)).all()
    listed_rows = listed_tickets(actor, rows)
    return _counted(session, actor, filters, query, listed_rows, page, cap=_total_cap(filters))


def _searching(filters: TicketFilters, page: PageRequest) -> bool:
    """Whether a search's page comes from `_searched`: within its cap. The match is what a
    search costs (SQLite gathers every match of a common word: 6-7 ms for half of 100,000
    tickets), and a page and a count of their own each made it: one walk halved a common word's
    search on both backends (docs/architecture.md, "Search"). Past the cap a walk would read
    every id up to the page, so those pages are read and counted as lists are."""
    return bool(filters.q) and _within(page, SEARCH_TOTAL_CAP)


def _within(page: PageRequest, cap: int) -> bool:
    return page.offset + page.page_size < cap


def _searched(
    session: Session,
    actor: Actor,
    query: Select[Any],
    filters: TicketFilters,
    sort: TicketSort,
    page: PageRequest,
    columns: Callable[[Select[Any]], Select[Any]],
) -> Page[Row[Any]]:
    """A search's page, as `columns` of its tickets, and its total: the ids in list order up to
    the cap (`_found`), then the page's rows by id, through the same visibility again (on
    PostgreSQL each statement sees what was committed before it, and a ticket may have left the
    reader's view since the walk)."""
    found = _found(session, _ids(query), actor, sort, page, cap=SEARCH_TOTAL_CAP)
    ids = [row.id for row in found.items]
    rows: Sequence[Row[Any]] = []
    if ids:
        readable = readable_tickets(actor, include_deleted=filters.deleted)
        place = {ticket_id: index for index, ticket_id in enumerate(ids)}
        listed_rows = session.execute(columns(readable).where(Ticket.id.in_(ids)))
        rows = sorted(listed_rows, key=lambda row: place[row.id])
    return Page(list(rows), found.total, page, capped=found.capped)


def _paged(selected: Selected, actor: Actor, sort: TicketSort, page: PageRequest) -> Selected:
    """`selected`, built on `filtered_tickets`, in the list's order: one page of it."""
    return _ordered(selected, actor, sort).limit(page.page_size).offset(page.offset)


def _ordered(selected: Selected, actor: Actor, sort: TicketSort) -> Selected:
    return selected.order_by(*ticket_order(sort, updated=updated_column(actor)))


def _total_cap(filters: TicketFilters) -> int:
    return SEARCH_TOTAL_CAP if filters.q else LIST_TOTAL_CAP


class Brief(NamedTuple):
    """A ticket as a side panel names it."""

    id: int
    number: str
    title: str
    status: TicketStatus


def brief_tickets(
    session: Session, actor: Actor, *, filters: TicketFilters, page: PageRequest, cap: int
) -> Page[Brief]:
    """The newest tickets a filter finds, by number, title and status only (the ticket page's
    "other tickets of this customer": whole tickets with their customer, assignee and tags cost
    several times more), counted up to `cap` in the same statement (a panel's few rows and its
    "99+" are one walk of at most `cap` + 1 rows; on PostgreSQL each statement costs its
    planning)."""
    query = filtered_tickets(session, actor, filters)
    columns = query.with_only_columns(Ticket.id, Ticket.number, Ticket.title, Ticket.status)
    if _within(page, cap):
        found = _found(session, columns, actor, TicketSort(), page, cap=cap)
        return Page([Brief._make(row) for row in found.items], found.total, page, capped=found.capped)
    rows = session.execute(_paged(columns, actor, TicketSort(), page))
    return _counted(session, actor, filters, query, [Brief._make(row) for row in rows], page, cap=cap)


class CustomerRow(NamedTuple):
    """A ticket as its customer's own list shows it (the portal)."""

    id: int
    number: str
    title: str
    status: TicketStatus
    department_name: str
    updated_at: datetime  # as the customer's side knows it (`updated_column`)


def customer_rows(
    session: Session, actor: Actor, *, filters: TicketFilters, page: PageRequest
) -> Page[CustomerRow]:
    """`find_tickets` for the portal's list: the columns it shows, as rows. Loading whole tickets
    with their department and category took about 2 ms more of Python per page of 20 (a third of
    the portal's work beyond signing in), for six values a ticket."""
    query = filtered_tickets(session, actor, filters)
    if _searching(filters, page):
        found = _searched(session, actor, query, filters, TicketSort(), page, partial(_portal_columns, actor))
        return Page([CustomerRow._make(row) for row in found.items], found.total, page, capped=found.capped)
    rows = session.execute(_paged(_portal_columns(actor, query), actor, TicketSort(), page))
    shown = [CustomerRow._make(row) for row in rows]
    return _counted(session, actor, filters, query, shown, page, cap=_total_cap(filters))


def _portal_columns(actor: Actor, tickets: Select[Any]) -> Select[Any]:
    """`tickets` as `CustomerRow`'s columns."""
    columns = (Ticket.id, Ticket.number, Ticket.title, Ticket.status, Department.name, updated_column(actor))
    return tickets.with_only_columns(*columns).join_from(
        Ticket, Department, Ticket.department_id == Department.id
    )


# A total beyond one page is a count of at most LIST_TOTAL_CAP + 1 tickets: a third of an API
# list's work at 100,000 tickets. The same reader asking for the same list again within this many
# seconds (the next page, a refresh, the desk's live update) is given the same count
# (docs/api.md, "Totals").
TOTAL_MAX_AGE = 10.0
_recent_totals: RecentAnswers[int] = RecentAnswers(max_age=TOTAL_MAX_AGE, size=4096)


def _counted(
    session: Session,
    actor: Actor,
    filters: TicketFilters,
    query: Select[Any],
    items: list[T],
    page: PageRequest,
    *,
    cap: int,
) -> Page[T]:
    """A page of `query` with its total: known without counting on the last page, else counted to
    `cap` (or a page past this one for a reader paging on beyond it), or that count made for this
    reader and list in the last `TOTAL_MAX_AGE` seconds, unless the page shows it out of date."""
    if len(items) < page.page_size and (items or page.offset == 0):
        return Page(items=items, total=page.offset + len(items), request=page)  # the last page
    if page.offset + page.page_size >= cap:
        cap = page.offset + 2 * page.page_size
    key = (actor, _filters_key(filters), cap)

    def count() -> int:
        return count_rows(session, _ids(query), cap=cap + 1)

    total = _recent_totals.get(session, key, count)
    if total < page.offset + len(items):  # fewer than this page shows: counted before a change
        total = _recent_totals.renew(session, key, count)
    return Page(items=items, total=min(total, cap), request=page, capped=total > cap)


def _filters_key(filters: TicketFilters) -> Hashable:
    return tuple(
        tuple(value) if isinstance(value, list | tuple) else value
        for value in (getattr(filters, field.name) for field in fields(filters))
    )


def _found(
    session: Session,
    selected: Select[*tuple[Any, ...]],
    actor: Actor,
    sort: TicketSort,
    page: PageRequest,
    *,
    cap: int,
) -> Page[Row[Any]]:
    """A page of `selected` (built on `filtered_tickets`) within `cap`, and its total counted to
    `cap` (as `_counted`), from one statement: its rows in the list's order up to the cap."""
    if not _within(page, cap):
        raise ValueError(f"page {page} reaches past the cap {cap}: read and count it as a list")
    rows = session.execute(_ordered(selected, actor, sort).limit(cap + 1)).all()
    shown = list(rows[page.offset : page.offset + page.page_size])
    return Page(items=shown, total=min(len(rows), cap), request=page, capped=len(rows) > cap)


def count_tickets(session: Session, actor: Actor, filters: TicketFilters, *, cap: int | None = None) -> int:
    return count_rows(session, _ids(filtered_tickets(session, actor, filters)), cap=cap)


def _ids(query: Select[Any]) -> Select[Any]:
    """`filtered_tickets` as its tickets' ids, to count: a capped count reads every row it counts
    up to the cap, and with all of a ticket's columns selected SQLite read the whole row
    (description included); 1,001 open tickets counted in 1.09 ms instead of 1.56 (100,000
    tickets)."""
    return query.with_only_columns(Ticket.id)


class DeskView(enum.StrEnum):
    """The desk's sidebar (docs/product.md §3 shortcuts)."""

    QUEUE = "queue"
    MINE = "mine"
    WATCHED = "watched"
    OPEN = "open"
    RECENT = "recent"
    ALL = "all"


RECENT_DAYS = 7


def view_filters(actor: Actor, view: DeskView) -> TicketFilters:
    require(actor, Permission.TICKETS_VIEW_INTERNAL)
    if view is DeskView.QUEUE:
        return queue(actor)
    if view is DeskView.MINE:
        return assigned_to_me(actor)
    if view is DeskView.WATCHED:
        return TicketFilters(watched_by_me=True)
    if view is DeskView.OPEN:
        return TicketFilters(statuses=sorted(lifecycle.ACTIVE_STATUSES))
    if view is DeskView.RECENT:
        return TicketFilters(updated_from=now() - timedelta(days=RECENT_DAYS))
    return TicketFilters()


VIEW_COUNT_CAP = 10_000


def view_counts(session: Session, actor: Actor) -> dict[DeskView, int]:
    """Sidebar badges, counted up to VIEW_COUNT_CAP (shown as "10k+") to stay fast at any size."""
    return {
        view: count_tickets(session, actor, view_filters(actor, view), cap=VIEW_COUNT_CAP)
        for view in DeskView
    }


def my_tickets(actor: Actor) -> TicketFilters:
    """A customer's own tickets (or, for staff, the ones they filed for themselves)."""
    return TicketFilters(customer_id=actor.user_id)


def queue(actor: Actor) -> TicketFilters:
    """Unassigned work in the agent's departments."""
    require(actor, Permission.TICKETS_VIEW_INTERNAL)
    return TicketFilters(
        statuses=sorted(lifecycle.ACTIVE_STATUSES),
        assigned_to=Assigned.NONE,
        in_my_departments=True,
    )


def assigned_to_me(actor: Actor) -> TicketFilters:
    require(actor, Permission.TICKETS_VIEW_INTERNAL)
    return TicketFilters(statuses=sorted(lifecycle.ACTIVE_STATUSES), assigned_to=Assigned.ME)
