"""Who sees which tickets. `readable_tickets` is the ONLY place that decides it (docs/architecture.md §4):
lists, counts, search, exports and notifications all start from it. `ticket_visible` is the same
rule read off one ticket already loaded by id, and must stay its exact twin (tests/leaks)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, false, literal, or_, select, true
from sqlalchemy.orm import Session

from ticketry.auth.actor import Actor
from ticketry.auth.permissions import Permission
from ticketry.core.db import among
from ticketry.tickets.models import Ticket, ticket_watchers
from ticketry.users.models import User


def ticket_visibility(actor: Actor) -> ColumnElement[bool]:
    """The WHERE clause of the tickets this actor may see (deleted ones aside).

    An agent's departments come first: they are constants the list indexes lead with, and most
    rows pass on them. The tickets they watch are read once per statement (`among`), a list of
    ids the planner can join around, not a subquery tested row by row."""
    if actor.can(Permission.TICKETS_VIEW_ALL):
        return true()
    if actor.is_staff:
        watched = among(
            Ticket.id,
            select(ticket_watchers.c.ticket_id)
            .where(ticket_watchers.c.user_id == actor.user_id)
            .correlate(None),
        )
        clauses: list[ColumnElement[bool]] = []
        if actor.department_ids:
            clauses.append(Ticket.department_id.in_(sorted(actor.department_ids)))
        clauses += [Ticket.assignee_id == actor.user_id, watched]
        return or_(*clauses)
    if not actor.can(Permission.TICKETS_VIEW):
        return false()
    if only_own_tickets(actor):
        return Ticket.customer_id == actor.user_id
    colleagues = select(User.id).where(User.organization_id == actor.organization_id).correlate(None)
    return or_(Ticket.customer_id == actor.user_id, Ticket.customer_id.in_(colleagues))


def only_own_tickets(actor: Actor) -> bool:
    """Whether the tickets this actor may see are at most the ones they are the customer of (a
    customer outside a shared organization): a search then looks among those only."""
    if actor.is_staff or actor.can(Permission.TICKETS_VIEW_ALL):
        return False
    return actor.organization_id is None or not actor.organization_shared


def readable_tickets(actor: Actor, *, include_deleted: bool = False) -> Select[Ticket]:
    """Tickets the actor may see. Deleted tickets only for those who may restore them."""
    query = select(Ticket).where(ticket_visibility(actor))
    if not (include_deleted and actor.can(Permission.TICKETS_DELETE)):
        query = query.where(Ticket.deleted_at.is_(None))
    return query


def ticket_visible(session: Session, actor: Actor, ticket: Ticket, *, include_deleted: bool = False) -> bool:
    """Whether `readable_tickets(actor, include_deleted=…)` holds this loaded ticket.

    Loading by id then asking this costs a primary-key read and at most one indexed lookup
    (a watcher row, or the requester's organization), where the clause made the database
    gather every ticket the agent watches for each ticket page."""
    if ticket.deleted_at is not None and not (include_deleted and actor.can(Permission.TICKETS_DELETE)):
        return False
    if actor.can(Permission.TICKETS_VIEW_ALL):
        return True
    if actor.is_staff:
        if ticket.department_id in actor.department_ids or ticket.assignee_id == actor.user_id:
            return True
        watching = select(literal(1)).where(
            ticket_watchers.c.ticket_id == ticket.id, ticket_watchers.c.user_id == actor.user_id
        )
        return session.scalar(watching) is not None
    if not actor.can(Permission.TICKETS_VIEW):
        return False
    if ticket.customer_id == actor.user_id:
        return True
    if actor.organization_id is None or not actor.organization_shared:
        return False
    requester_organization = select(User.organization_id).where(User.id == ticket.customer_id)
    return session.scalar(requester_organization) == actor.organization_id
