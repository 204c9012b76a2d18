"""Saved views (docs/product.md §3): a desk filter kept under a name, personal or shared by an admin.

A view stores the desk's query string, never a result: its tickets and its count are always
worked out for the person looking, through the same parser and visibility as the desk list. A
shared view therefore shows each agent only the tickets they may see.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.core.clock import now
from ticketry.core.db import TookTooLong, time_boxed
from ticketry.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from ticketry.search import query as list_query
from ticketry.search.models import SavedView
from ticketry.search.query import ListQuery
from ticketry.search.service import VIEW_COUNT_CAP, count_tickets

MAX_VIEWS_PER_USER = 50
# What counting every saved view of one sidebar may take, in all.
COUNT_BUDGET_MS = 300
NOT_COUNTED = "Not counted: it takes too long to count. Open the view to see its tickets."
MAX_NAME_LENGTH = 100


class SavedViewNotFound(NotFound):
    code = "saved_view_not_found"


class TooManyViews(Conflict):
    code = "too_many_views"


@dataclass(frozen=True)
class CountedView:
    view: SavedView
    # None when the filter no longer reads (say, its department was removed).
    count: int | None
    problem: str | None = None
    # Not counted within the time budget (the filter itself is fine).
    slow: bool = False


# --- reading ------------------------------------------------------------------------------------


def _visible_to(actor: Actor) -> ColumnElement[bool]:
    return or_(SavedView.owner_id == actor.user_id, SavedView.is_shared.is_(True))


def list_views(session: Session, actor: Actor) -> list[SavedView]:
    """The actor's own views and the shared ones: shared first, then by position and name."""
    require(actor, Permission.TICKETS_VIEW_INTERNAL)
    query = (
        select(SavedView)
        .where(_visible_to(actor))
        .order_by(SavedView.is_shared.desc(), SavedView.position, func.lower(SavedView.name), SavedView.id)
    )
    return list(session.scalars(query))


def get_view(session: Session, actor: Actor, view_id: int) -> SavedView:
    """Someone else's personal view does not exist for this actor (404)."""
    require(actor, Permission.TICKETS_VIEW_INTERNAL)
    view = session.scalars(
        select(SavedView).where(SavedView.id == view_id).where(_visible_to(actor))
    ).one_or_none()
    if view is None:
        raise SavedViewNotFound(f"View {view_id} not found.", details={"viewId": view_id})
    return view


def read_view(actor: Actor, view: SavedView) -> ListQuery:
    """The view's filter as the desk reads it, for this actor (a view saved with the desk's older
    spelling reads the same: `search.query` keeps those names as aliases)."""
    return list_query.read_list_query(actor, view.query, defaults=list_query.DESK)


def shows(actor: Actor, view: SavedView, chosen: ListQuery) -> bool:
    """Whether the list on screen is this view's filter, however its query string is written (the
    desk's filter form also sends its defaults and empty fields)."""
    try:
        kept = read_view(actor, view)
    except DomainError:
        return False
    if (kept.view, kept.sort) != (chosen.view, chosen.sort):
        return False
    # The one moving part comes from the view itself ("Recently updated": the last 7 days from now).
    return replace(kept.filters, updated_from=chosen.filters.updated_from) == chosen.filters


def count_views(
    session: Session, actor: Actor, views: Sequence[SavedView], *, budget_ms: int = COUNT_BUDGET_MS
) -> list[CountedView]:
    """Each view's count for this actor, capped like the built-in views (10,000, "10k+").

    The counts share a time budget: every desk page shows them, and one view searching a common
    word can take seconds at a million tickets, so a count still running when the budget is
    spent is stopped and the view shows "not counted" instead of holding the page up. A view
    that no longer reads shows its problem instead of a count."""
    deadline = time.monotonic() + budget_ms / 1000
    counted: list[CountedView] = []
    for view in views:
        try:
            filters = read_view(actor, view).filters
        except DomainError as error:
            counted.append(CountedView(view, None, error.message))
            continue
        left = int((deadline - time.monotonic()) * 1000)
        if left <= 0:
            counted.append(CountedView(view, None, NOT_COUNTED, slow=True))
            continue
        try:
            with time_boxed(session, left):
                count = count_tickets(session, actor, filters, cap=VIEW_COUNT_CAP)
        except TookTooLong:
            counted.append(CountedView(view, None, NOT_COUNTED, slow=True))
            continue
        except DomainError as error:  # a department it names was deleted since: its warning
            counted.append(CountedView(view, None, error.message))
            continue
        counted.append(CountedView(view, count))
    return counted


def sidebar(session: Session, actor: Actor, *, counted: bool) -> list[CountedView]:
    """The views of the desk sidebar, counted or (for a page that counts them afterwards) not."""
    views = list_views(session, actor)
    return count_views(session, actor, views) if counted else [CountedView(v, None) for v in views]


# --- changing -----------------------------------------------------------------------------------


def _name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not 1 <= len(cleaned) <= MAX_NAME_LENGTH:
        raise ValidationFailed(
            f"A view's name is 1 to {MAX_NAME_LENGTH} characters.", details={"field": "name"}
        )
    return cleaned


def _query(actor: Actor, query: str) -> str:
    """Store the filter in its canonical form, once it is known to read (a bad one is a 422 now,
    not a broken sidebar later)."""
    params = list_query.params_of(query.lstrip("?"))
    list_query.parse_list_query(actor, params, defaults=list_query.DESK)
    return list_query.canonical(params)


def _may_change(actor: Actor, view: SavedView) -> None:
    if view.is_shared:
        require(actor, Permission.ADMIN_VIEWS)
    elif view.owner_id != actor.user_id:
        raise SavedViewNotFound(f"View {view.id} not found.", details={"viewId": view.id})


def create_view(session: Session, actor: Actor, *, name: str, query: str, shared: bool = False) -> SavedView:
    require(actor, Permission.TICKETS_VIEW_INTERNAL)
    if shared:
        require(actor, Permission.ADMIN_VIEWS)
    owned = session.scalar(
        select(func.count()).select_from(SavedView).where(SavedView.owner_id == actor.user_id)
    )
    if (owned or 0) >= MAX_VIEWS_PER_USER:
        raise TooManyViews(
            f"You have {MAX_VIEWS_PER_USER} views, the most one person can keep. Delete one first.",
            details={"max": MAX_VIEWS_PER_USER},
        )
    last = session.scalar(select(func.max(SavedView.position)).where(_visible_to(actor)))
    view = SavedView(
        name=_name(name),
        query=_query(actor, query),
        owner_id=actor.user_id,
        is_shared=shared,
        position=(last or 0) + 1,
    )
    session.add(view)
    session.flush()
    return view


def update_view(
    session: Session,
    actor: Actor,
    view_id: int,
    *,
    name: str | None = None,
    query: str | None = None,
    shared: bool | None = None,
    position: int | None = None,
) -> SavedView:
    """Owners change their personal views; shared ones, and sharing itself, are for admins."""
    view = get_view(session, actor, view_id)
    _may_change(actor, view)
    if shared is not None and shared != view.is_shared:
        require(actor, Permission.ADMIN_VIEWS)
        view.is_shared = shared
    if name is not None:
        view.name = _name(name)
    if query is not None:
        view.query = _query(actor, query)
    if position is not None:
        view.position = position
    view.updated_at = now()
    session.flush()
    return view


def move_view(session: Session, actor: Actor, view_id: int, *, up: bool) -> SavedView:
    """Swap places with the neighbour above or below among the views this actor sees."""
    view = get_view(session, actor, view_id)
    _may_change(actor, view)
    siblings = [v for v in list_views(session, actor) if v.is_shared == view.is_shared]
    index = siblings.index(view)
    other = index - 1 if up else index + 1
    if 0 <= other < len(siblings):
        # Renumber the whole group so equal positions (old data) cannot make a swap a no-op.
        siblings[index], siblings[other] = siblings[other], siblings[index]
        # (The group is all shared views, which only admins move, or all of the actor's own.)
        for position, sibling in enumerate(siblings, start=1):
            sibling.position = position
        session.flush()
    return view


def delete_view(session: Session, actor: Actor, view_id: int) -> None:
    view = get_view(session, actor, view_id)
    _may_change(actor, view)
    session.delete(view)
    session.flush()
