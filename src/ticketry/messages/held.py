"""Mail held on a ticket for review (docs/product.md §4): a staff-only message from someone the mail channel
would not let speak in the conversation. An agent reads it and, with one click, accepts it: it
becomes a public message of its author, and its author a participant whose later mail joins the
conversation as it comes.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.history.models import Change
from ticketry.messages.errors import MessageNotFound, MessageNotHeld
from ticketry.messages.models import Message
from ticketry.messages.repository import readable_messages
from ticketry.tickets import changes as ticket_changes
from ticketry.tickets import participants
from ticketry.tickets.models import ParticipantRole
from ticketry.users.models import User


def accept_held(session: Session, actor: Actor, ticket_id: int, message_id: int) -> Message:
    """Publish a held message into the conversation and make its author a participant (unless
    they are the ticket's customer, or staff). Publishing is a public reply's permission."""
    ticket = ticket_changes.begin(session, actor, ticket_id)
    message = session.scalars(
        readable_messages(actor).where(Message.id == message_id, Message.ticket_id == ticket.id)
    ).one_or_none()
    if message is None:
        raise MessageNotFound(f"Message {message_id} not found.", details={"messageId": message_id})
    require(actor, Permission.TICKETS_VIEW_INTERNAL)
    require(actor, Permission.TICKETS_REPLY)
    if message.held_reason is None:
        raise MessageNotHeld("This message is not held.", details={"messageId": message.id})
    author = session.scalars(select(User).where(User.id == message.author_id)).one()
    message.held_reason = None
    message.is_internal = False
    accepted = [
        Change("reply", None, f"#{message.id}"),
        Change("held_mail", f"#{message.id}", "accepted", internal=True),
    ]
    ticket_changes.finish(session, actor, ticket, accepted)
    if author.id != ticket.customer_id and not author.role.is_staff and author.is_active:
        participants.enlist(session, ticket, author, role=ParticipantRole.ACCEPTED, by=actor)
    return message
