"""Canned-reply use cases: list, create, change, delete, and use (render for a ticket).

Who sees what: an agent sees their own personal replies and every shared one; nobody else's
personal replies, admins included (they answer 404). Customers lack `canned:use` and are refused
before anything is looked up. Shared replies are written only with `admin:canned`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, SQLColumnExpression, func, or_, select, update
from sqlalchemy.orm import Session, joinedload

from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.canned import render as renderer
from ticketry.canned.errors import CannedReplyNotFound
from ticketry.canned.models import CannedReply
from ticketry.canned.schemas import CannedSort, Scope
from ticketry.core.clock import now
from ticketry.core.pagination import Page, PageRequest, count_rows
from ticketry.tickets.access import access_ticket
from ticketry.tickets.models import STATUS_LABELS, Ticket

UNSET: object = object()


def require_use(actor: Actor) -> None:
    """Canned replies are a staff tool: customers are refused before anything is looked up."""
    require(actor, Permission.CANNED_USE)


def readable_canned(actor: Actor) -> Select[CannedReply]:
    """Every reply the actor may see: the shared ones and their own."""
    return select(CannedReply).where(
        or_(CannedReply.owner_id.is_(None), CannedReply.owner_id == actor.user_id)
    )


def _escape_like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _clean_category(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _ordering(sort: CannedSort, descending: bool | None) -> list[SQLColumnExpression[Any]]:
    """Each sort has its natural direction (most used, most recent first); never-used replies
    go last either way."""
    if sort is CannedSort.USAGE:
        desc = True if descending is None else descending
        return [CannedReply.usage_count.desc() if desc else CannedReply.usage_count.asc()]
    if sort is CannedSort.LAST_USED:
        desc = True if descending is None else descending
        used = CannedReply.last_used_at
        return [used.is_(None), used.desc() if desc else used.asc()]
    if sort is CannedSort.CATEGORY:
        category = func.lower(CannedReply.category)
        return [CannedReply.category.is_(None), category.desc() if descending else category.asc()]
    title = func.lower(CannedReply.title)
    return [title.desc() if descending else title.asc()]


def list_replies(
    session: Session,
    actor: Actor,
    *,
    q: str | None = None,
    category: str | None = None,
    scope: Scope = Scope.ALL,
    sort: CannedSort = CannedSort.TITLE,
    descending: bool | None = None,
    page: PageRequest,
) -> Page[CannedReply]:
    require(actor, Permission.CANNED_USE)
    query = readable_canned(actor)
    if scope is Scope.PERSONAL:
        query = query.where(CannedReply.owner_id == actor.user_id)
    elif scope is Scope.SHARED:
        query = query.where(CannedReply.owner_id.is_(None))
    text = (q or "").strip()[:200]
    if text:
        pattern = _escape_like(text)
        query = query.where(
            or_(
                CannedReply.title.ilike(pattern, escape="\\"),
                CannedReply.body.ilike(pattern, escape="\\"),
            )
        )
    if category := _clean_category(category):
        query = query.where(CannedReply.category == category)
    total = count_rows(session, query)
    # Ties (equally used, never used) read best alphabetically.
    ordered = query.order_by(*_ordering(sort, descending), func.lower(CannedReply.title), CannedReply.id)
    items = list(session.scalars(ordered.limit(page.page_size).offset(page.offset)))
    return Page(items=items, total=total, request=page)


@dataclass(frozen=True)
class CategoryTally:
    name: str
    count: int


def list_categories(session: Session, actor: Actor) -> list[CategoryTally]:
    """The categories of the replies the actor sees, with how many each holds."""
    require(actor, Permission.CANNED_USE)
    visible = readable_canned(actor).where(CannedReply.category.is_not(None)).subquery()
    rows = session.execute(
        select(visible.c.category, func.count())
        .group_by(visible.c.category)
        .order_by(func.lower(visible.c.category), visible.c.category)
    )
    return [CategoryTally(name=name, count=count) for name, count in rows]


def get_reply(session: Session, actor: Actor, reply_id: int) -> CannedReply:
    require(actor, Permission.CANNED_USE)
    reply = session.scalars(readable_canned(actor).where(CannedReply.id == reply_id)).one_or_none()
    if reply is None:
        raise CannedReplyNotFound(f"Canned reply {reply_id} not found.", details={"cannedReplyId": reply_id})
    return reply


def _require_write(actor: Actor, reply: CannedReply) -> None:
    """Personal replies are their owner's (the only one who can load them); shared ones are the
    admins'."""
    if reply.owner_id is None:
        require(actor, Permission.ADMIN_CANNED)


def create_reply(
    session: Session,
    actor: Actor,
    *,
    title: str,
    body: str,
    category: str | None = None,
    shared: bool = False,
) -> CannedReply:
    require(actor, Permission.CANNED_USE)
    if shared:
        require(actor, Permission.ADMIN_CANNED)
    moment = now()
    reply = CannedReply(
        title=title.strip(),
        body=body,
        category=_clean_category(category),
        owner_id=None if shared else actor.user_id,
        usage_count=0,
        created_by_id=actor.user_id,
        created_at=moment,
        updated_at=moment,
    )
    session.add(reply)
    session.flush()
    return reply


def update_reply(
    session: Session,
    actor: Actor,
    reply_id: int,
    *,
    title: str | None = None,
    body: str | None = None,
    category: str | object | None = UNSET,
    shared: bool | None = None,
) -> CannedReply:
    """Change what is given. Moving a reply between personal and shared needs `admin:canned`;
    a shared reply made personal becomes the acting admin's."""
    reply = get_reply(session, actor, reply_id)
    _require_write(actor, reply)
    if shared is not None and shared != (reply.owner_id is None):
        require(actor, Permission.ADMIN_CANNED)
        reply.owner_id = None if shared else actor.user_id
    if title is not None:
        reply.title = title.strip()
    if body is not None:
        reply.body = body
    if category is not UNSET:
        reply.category = _clean_category(category if isinstance(category, str) else None)
    reply.updated_at = now()
    session.flush()
    return reply


def delete_reply(session: Session, actor: Actor, reply_id: int) -> None:
    reply = get_reply(session, actor, reply_id)
    _require_write(actor, reply)
    session.delete(reply)
    session.flush()


def ticket_context(ticket: Ticket, actor: Actor) -> dict[str, str]:
    """The allow-listed values, as plain strings: the renderer never sees an ORM object."""
    name = ticket.customer.name.strip()
    return {
        "customer.name": name,
        "customer.first_name": name.split()[0] if name else "",
        "customer.email": ticket.customer.email,
        "ticket.number": ticket.number,
        "ticket.title": ticket.title,
        "ticket.status": STATUS_LABELS[ticket.status],
        "ticket.priority": ticket.priority.value.title(),
        "ticket.department": ticket.department.name,
        "agent.name": actor.name,
        "agent.email": actor.email,
    }


@dataclass(frozen=True)
class RenderResult:
    reply: CannedReply
    ticket_id: int
    rendered: renderer.Rendered


# What a reply's variables read of its ticket.
_RENDER_LOAD = (joinedload(Ticket.customer), joinedload(Ticket.department))


def render_reply(
    session: Session, actor: Actor, reply_id: int, *, ticket_id: int, count: bool
) -> RenderResult:
    """The reply's text for this ticket. `count` is a use (the agent inserts it): the usage count
    goes up by one in a single UPDATE, so concurrent uses are all counted; a preview counts
    nothing. A ticket the agent cannot see is 404, like everywhere."""
    reply = get_reply(session, actor, reply_id)
    ticket = access_ticket(session, actor, ticket_id, options=_RENDER_LOAD)
    rendered = renderer.render(reply.body, ticket_context(ticket, actor))
    if count:
        session.execute(
            update(CannedReply)
            .where(CannedReply.id == reply.id)
            .values(usage_count=CannedReply.usage_count + 1, last_used_at=now())
            .execution_options(synchronize_session=False)
        )
        session.refresh(reply)
    return RenderResult(reply=reply, ticket_id=ticket.id, rendered=rendered)
