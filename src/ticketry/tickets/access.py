"""Loading one ticket by id, through visibility: what the actor may not see does not exist (404)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.interfaces import ORMOption

from ticketry.auth.actor import Actor
from ticketry.tickets.errors import TicketNotFound
from ticketry.tickets.models import Ticket
from ticketry.tickets.repository import readable_tickets, ticket_visible


def access_ticket(
    session: Session,
    actor: Actor,
    ticket_id: int,
    *,
    lock: bool = False,
    include_deleted: bool = False,
    options: tuple[ORMOption, ...] = (),
) -> Ticket:
    """A read loads by primary key, then asks `ticket_visible`: no scan of what the actor may
    see. Without `options`, the session's own copy is used when it has one (a page asks for its
    ticket in each of its parts: thread, history, links, participants …; one query in all). A
    lock is only ever taken on a ticket the actor may see, so there the clause decides in the
    locking query itself."""
    ticket: Ticket | None
    if lock:
        query = (
            readable_tickets(actor, include_deleted=include_deleted)
            .where(Ticket.id == ticket_id)
            .with_for_update(of=Ticket)
        )
        ticket = session.scalars(query.options(*options)).one_or_none()
    elif options:
        # A query, not `session.get`: on a copy the session already has, its loaders still load
        # what that copy lacks (`session.get` would return it as it is).
        ticket = session.scalars(select(Ticket).where(Ticket.id == ticket_id).options(*options)).one_or_none()
    else:
        ticket = session.get(Ticket, ticket_id)
    if ticket is None or not (
        lock or ticket_visible(session, actor, ticket, include_deleted=include_deleted)
    ):
        raise TicketNotFound(f"Ticket {ticket_id} not found.", details={"ticketId": ticket_id})
    return ticket
