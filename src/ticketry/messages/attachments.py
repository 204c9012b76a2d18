"""Who reads which files: exactly who reads what they are attached to (docs/product.md §5).

A file on a message is readable with the message (`readable_messages`: never an internal
note's file for a customer, never a deleted message's); a file on a ticket's description with
the ticket (`readable_tickets`); an unsent upload by its uploader only. Deleted files by nobody.
"""

from __future__ import annotations

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

from ticketry.attachments.errors import AttachmentNotFound
from ticketry.attachments.models import Attachment
from ticketry.auth.actor import Actor
from ticketry.messages.models import Message
from ticketry.messages.repository import readable_messages
from ticketry.tickets.access import access_ticket
from ticketry.tickets.models import Ticket
from ticketry.tickets.repository import readable_tickets


def readable_attachments(actor: Actor) -> Select[Attachment]:
    message_readable = (
        readable_messages(actor)
        .with_only_columns(Message.id)
        .where(Message.id == Attachment.message_id)
        .exists()
    )
    ticket_readable = (
        readable_tickets(actor).with_only_columns(Ticket.id).where(Ticket.id == Attachment.ticket_id).exists()
    )
    return select(Attachment).where(
        Attachment.deleted_at.is_(None),
        or_(
            and_(Attachment.message_id.is_not(None), message_readable),
            and_(Attachment.message_id.is_(None), Attachment.ticket_id.is_not(None), ticket_readable),
            and_(Attachment.ticket_id.is_(None), Attachment.uploaded_by_id == actor.user_id),
        ),
    )


def get_attachment(session: Session, actor: Actor, attachment_id: int) -> Attachment:
    attachment = session.scalars(
        readable_attachments(actor).where(Attachment.id == attachment_id)
    ).one_or_none()
    if attachment is None:
        raise AttachmentNotFound(
            f"Attachment {attachment_id} not found.", details={"attachmentId": attachment_id}
        )
    return attachment


def ticket_attachments(session: Session, actor: Actor, ticket_id: int) -> list[Attachment]:
    """Every file of a ticket this actor may read: the description's and the messages'."""
    access_ticket(session, actor, ticket_id)
    query = readable_attachments(actor).where(Attachment.ticket_id == ticket_id).order_by(Attachment.id)
    return list(session.scalars(query))


def readable_bytes(session: Session, actor: Actor, ticket_id: int) -> int:
    """What the ticket's files this actor can read take: the room left under the per-ticket
    limit is computed from this, so it tells a customer nothing about internal notes' files."""
    readable = readable_attachments(actor).where(Attachment.ticket_id == ticket_id).subquery()
    return int(session.scalar(select(func.coalesce(func.sum(readable.c.size), 0))) or 0)
