"""Loading one ticket by id, through visibility: what the actor may not see does not exist (404)."""

from __future__ import annotations

from sqlalchemy.orm import Session
from sqlalchemy.orm.interfaces import ORMOption

from ticketry.auth.actor import Actor
from ticketry.tickets.errors import TicketNotFound
from ticketry.tickets.models import Ticket
from ticketry.tickets.repository import readable_tickets


def access_ticket(
    session: Session,
    actor: Actor,
    ticket_id: int,
    *,
    lock: bool = False,
    include_deleted: bool = False,
    options: tuple[ORMOption, ...] = (),
) -> Ticket:
    query = readable_tickets(actor, include_deleted=include_deleted).where(Ticket.id == ticket_id)
    if options:
        query = query.options(*options)
    if lock:
        query = query.with_for_update(of=Ticket)
    ticket = session.scalars(query).one_or_none()
    if ticket is None:
        raise TicketNotFound(f"Ticket {ticket_id} not found.", details={"ticketId": ticket_id})
    return ticket
