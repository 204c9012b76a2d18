"""Loading one ticket by id, through visibility: what the actor may not see does not exist (404)."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.interfaces import ORMOption

from ticketry.auth.actor import Actor
from ticketry.tickets.errors import TicketNotFound
from ticketry.tickets.models import Ticket
from ticketry.tickets.repository import ticket_visible


def access_ticket(
    session: Session,
    actor: Actor,
    ticket_id: int,
    *,
    include_deleted: bool = False,
    options: tuple[ORMOption, ...] = (),
) -> Ticket:
    """A read loads by primary key, then asks `ticket_visible`: no scan of what the actor may
    see. Without `options`, the session's own copy is used when it has one (a page asks for its
    ticket in each of its parts: thread, history, links, participants …; one query in all).
    To change a ticket, writers lock it through `tickets.changes.begin` instead."""
    ticket: Ticket | None
    if options:
        # A query, not `session.get`: on a copy the session already has, its loaders still load
        # what that copy lacks (`session.get` would return it as it is).
        ticket = session.scalars(_by_id(options), {"ticket_id": ticket_id}).one_or_none()
    else:
        ticket = session.get(Ticket, ticket_id)
    if ticket is None or not ticket_visible(session, actor, ticket, include_deleted=include_deleted):
        raise not_found(ticket_id)
    return ticket


@lru_cache(maxsize=16)
def _by_id(options: tuple[ORMOption, ...]) -> Select[Ticket]:
    """Built once per set of loader options (module constants): building it and its cache key
    again for every read cost a fifth of loading a ticket with its tags, files and watchers."""
    return select(Ticket).where(Ticket.id == bindparam("ticket_id")).options(*options)


def not_found(ticket_id: int) -> TicketNotFound:
    return TicketNotFound(f"Ticket {ticket_id} not found.", details={"ticketId": ticket_id})
