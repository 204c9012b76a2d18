"""Watchers: staff who follow a ticket and hear of its changes (docs/product.md §3, §4).

Watching never grants access to a ticket one cannot already read: `watch` loads the ticket
through `access_ticket` first (404 otherwise). An agent who watches a ticket outside their
departments sees it while watching (`readable_tickets`); unwatching takes that away again.
Adding someone else is an admin's `tickets:watchers`, and only active staff can watch.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.history.models import Change
from ticketry.tickets import changes as ticket_changes
from ticketry.tickets.access import access_ticket
from ticketry.tickets.models import Ticket, ticket_watchers
from ticketry.users import service as users
from ticketry.users.models import User


def list_watchers(session: Session, actor: Actor, ticket_id: int) -> list[User]:
    """Who watches the ticket, by name. Staff only: customers never learn who watches."""
    access_ticket(session, actor, ticket_id, include_deleted=True)
    require(actor, Permission.TICKETS_VIEW_INTERNAL)
    return _watchers(session, ticket_id)


def is_watching(session: Session, actor: Actor, ticket_id: int) -> bool:
    """Whether the actor watches the ticket (the caller has checked that they may see it)."""
    row = session.execute(
        select(ticket_watchers.c.user_id).where(
            ticket_watchers.c.ticket_id == ticket_id, ticket_watchers.c.user_id == actor.user_id
        )
    ).first()
    return row is not None


def watch(session: Session, actor: Actor, ticket_id: int) -> list[User]:
    """Follow a ticket one can read; watching it twice changes nothing."""
    ticket = ticket_changes.begin(session, actor, ticket_id)
    require(actor, Permission.TICKETS_WATCH)
    return _set(session, actor, ticket, users.get_agent(session, actor.user_id), watching=True)


def unwatch(session: Session, actor: Actor, ticket_id: int) -> list[User]:
    """Stop following. Idempotent; a ticket one cannot read is still 404."""
    ticket = ticket_changes.begin(session, actor, ticket_id, allow_deleted=True)
    require(actor, Permission.TICKETS_WATCH)
    user = session.get(User, actor.user_id)
    assert user is not None  # the actor was loaded from this row
    return _set(session, actor, ticket, user, watching=False)


def add_watcher(session: Session, actor: Actor, ticket_id: int, user_id: int) -> list[User]:
    """Admins make an active agent or admin watch the ticket (which lets them see it)."""
    ticket = ticket_changes.begin(session, actor, ticket_id)
    require(actor, Permission.TICKETS_WATCHERS)
    return _set(session, actor, ticket, users.get_agent(session, user_id), watching=True)


def remove_watcher(session: Session, actor: Actor, ticket_id: int, user_id: int) -> list[User]:
    """Admins take anyone off the watchers; someone who was not watching is not an error."""
    ticket = ticket_changes.begin(session, actor, ticket_id, allow_deleted=True)
    require(actor, Permission.TICKETS_WATCHERS)
    user = users.get_user(session, user_id)
    return _set(session, actor, ticket, user, watching=False)


def _watchers(session: Session, ticket_id: int) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .join(ticket_watchers, ticket_watchers.c.user_id == User.id)
            .where(ticket_watchers.c.ticket_id == ticket_id)
            .order_by(User.name, User.id)
        )
    )


def _names(people: list[User]) -> str | None:
    return ", ".join(sorted(person.name for person in people)) or None


def _set(session: Session, actor: Actor, ticket: Ticket, user: User, *, watching: bool) -> list[User]:
    """Add or remove one watcher; history (staff only) and a live refresh only if it changed."""
    before = _watchers(session, ticket.id)
    if watching == any(person.id == user.id for person in before):
        return before
    if watching:
        session.execute(ticket_watchers.insert().values(ticket_id=ticket.id, user_id=user.id))
    else:
        session.execute(
            delete(ticket_watchers).where(
                ticket_watchers.c.ticket_id == ticket.id, ticket_watchers.c.user_id == user.id
            )
        )
    after = _watchers(session, ticket.id)
    # Staff pages refetch: the ticket's, and the "Watched by me" count.
    ticket_changes.aside(
        session, actor, ticket.id, [Change("watchers", _names(before), _names(after), internal=True)]
    )
    return after
