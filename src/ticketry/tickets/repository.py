"""Who sees which tickets. `readable_tickets` is the ONLY place that decides it (DESIGN.md §4):
lists, counts, search, exports and notifications all start from it."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Select, false, or_, select, true

from ticketry.auth.actor import Actor
from ticketry.auth.permissions import Permission
from ticketry.tickets.models import Ticket, ticket_watchers
from ticketry.users.models import User


def ticket_visibility(actor: Actor) -> ColumnElement[bool]:
    """The WHERE clause of the tickets this actor may see (deleted ones aside)."""
    if actor.can(Permission.TICKETS_VIEW_ALL):
        return true()
    if actor.is_staff:
        watched = Ticket.id.in_(
            select(ticket_watchers.c.ticket_id)
            .where(ticket_watchers.c.user_id == actor.user_id)
            .correlate(None)
        )
        clauses: list[ColumnElement[bool]] = [Ticket.assignee_id == actor.user_id, watched]
        if actor.department_ids:
            clauses.append(Ticket.department_id.in_(sorted(actor.department_ids)))
        return or_(*clauses)
    if not actor.can(Permission.TICKETS_VIEW):
        return false()
    if actor.organization_id is not None and actor.organization_shared:
        colleagues = select(User.id).where(User.organization_id == actor.organization_id).correlate(None)
        return or_(Ticket.customer_id == actor.user_id, Ticket.customer_id.in_(colleagues))
    return Ticket.customer_id == actor.user_id


def readable_tickets(actor: Actor, *, include_deleted: bool = False) -> Select[Ticket]:
    """Tickets the actor may see. Deleted tickets only for those who may restore them."""
    query = select(Ticket).where(ticket_visibility(actor))
    if not (include_deleted and actor.can(Permission.TICKETS_DELETE)):
        query = query.where(Ticket.deleted_at.is_(None))
    return query
