"""Who takes part in a ticket's conversation by mail (docs/product.md §4): its customer, members of the
customer's organization when that organization is shared, and the participants listed here:
people the customer copied (Cc) on a mail to the ticket, people an agent accepted a held mail
from, and people staff added. Anyone else's mail is held as a staff-only message.

Being a participant lets one's *mail* join the conversation; it grants no portal access (that is
`readable_tickets`, unchanged). Staff manage the list; customers never read it.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, joinedload

from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.history.models import Change
from ticketry.tickets import changes as ticket_changes
from ticketry.tickets.access import access_ticket
from ticketry.tickets.errors import InvalidParticipant, ParticipantNotFound
from ticketry.tickets.models import ParticipantRole, Ticket, TicketParticipant
from ticketry.users import service as users
from ticketry.users.models import Organization, Role, User

# A ticket's list stays a list of people, not a mailing list.
MAX_PARTICIPANTS = 50


def is_participant(session: Session, ticket: Ticket, user: User) -> bool:
    """Whether mail from `user` joins this ticket's conversation (see `role_of`)."""
    return role_of(session, ticket, user) is not None


def role_of(session: Session, ticket: Ticket, user: User) -> str | None:
    """How `user` takes part in the ticket: "customer", "organization" (a colleague in the
    customer's shared organization), a `ParticipantRole` value, or None (they do not)."""
    if not user.is_active:
        return None
    if user.id == ticket.customer_id:
        return "customer"
    listed = session.scalar(
        select(TicketParticipant.role).where(
            TicketParticipant.ticket_id == ticket.id, TicketParticipant.user_id == user.id
        )
    )
    if listed is not None:
        return listed.value
    if user.organization_id is None:
        return None
    shared_colleague = session.scalar(
        select(User.id)
        .join(Organization, Organization.id == User.organization_id)
        .where(
            User.id == ticket.customer_id,
            User.organization_id == user.organization_id,
            Organization.shared.is_(True),
        )
    )
    return "organization" if shared_colleague is not None else None


def list_participants(session: Session, actor: Actor, ticket_id: int) -> list[TicketParticipant]:
    """The listed participants, oldest first. Staff only."""
    access_ticket(session, actor, ticket_id, include_deleted=True)
    require(actor, Permission.TICKETS_VIEW_INTERNAL)
    return _listed(session, ticket_id)


def add_participant(
    session: Session, actor: Actor, ticket_id: int, *, email: str, name: str = ""
) -> TicketParticipant:
    """Staff add someone by address (a customer account is made for a new address)."""
    ticket = ticket_changes.begin(session, actor, ticket_id)
    require(actor, Permission.TICKETS_UPDATE)
    user = users.find_user_by_email(session, email)
    if user is None:
        user = users.create_user(
            session, email=email, name=name.strip() or email.partition("@")[0], role=Role.CUSTOMER
        )
    return enlist(session, ticket, user, role=ParticipantRole.ADDED, by=actor)


def remove_participant(session: Session, actor: Actor, ticket_id: int, user_id: int) -> None:
    """Their later mail is held again, like a stranger's."""
    ticket = ticket_changes.begin(session, actor, ticket_id)
    require(actor, Permission.TICKETS_UPDATE)
    row = session.get(TicketParticipant, (ticket.id, user_id), options=[joinedload(TicketParticipant.user)])
    if row is None:
        raise ParticipantNotFound("No such participant on this ticket.", details={"userId": user_id})
    change = Change("participants", row.user.email, None, internal=True)
    session.execute(
        delete(TicketParticipant).where(
            TicketParticipant.ticket_id == ticket.id, TicketParticipant.user_id == user_id
        )
    )
    ticket_changes.aside(session, actor, ticket.id, [change])


def enlist(
    session: Session, ticket: Ticket, user: User, *, role: ParticipantRole, by: Actor | None
) -> TicketParticipant:
    """Make `user` a participant (idempotent: an existing entry keeps its role). The ticket's
    customer and staff are never listed: they take part already, or act as staff."""
    if user.id == ticket.customer_id or user.role.is_staff:
        raise InvalidParticipant(
            "The ticket's customer and staff take part already; only other people are listed.",
            details={"userId": user.id},
        )
    if not user.is_active:
        raise InvalidParticipant("This account is disabled.", details={"userId": user.id})
    row = session.get(TicketParticipant, (ticket.id, user.id), options=[joinedload(TicketParticipant.user)])
    if row is not None:
        return row
    count = len(_listed(session, ticket.id))
    if count >= MAX_PARTICIPANTS:
        raise InvalidParticipant(
            f"A ticket has at most {MAX_PARTICIPANTS} participants.", details={"limit": MAX_PARTICIPANTS}
        )
    row = TicketParticipant(
        ticket_id=ticket.id, user_id=user.id, user=user, role=role, added_by_id=by.user_id if by else None
    )
    session.add(row)
    session.flush()
    ticket_changes.aside(session, by, ticket.id, [Change("participants", None, user.email, internal=True)])
    return row


def _listed(session: Session, ticket_id: int) -> list[TicketParticipant]:
    return list(
        session.scalars(
            select(TicketParticipant)
            .where(TicketParticipant.ticket_id == ticket_id)
            .options(joinedload(TicketParticipant.user))
            .order_by(TicketParticipant.added_at, TicketParticipant.user_id)
        )
    )
