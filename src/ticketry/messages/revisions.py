"""Editing messages and reading their earlier texts (docs/product.md §2 "Messages": edits keep the full
history and show an "edited" marker).

Who may edit which message:

- its author, while they can still read the ticket (`access_ticket`, else 404) and still hold the
  permission they needed to write it (`tickets:reply`, or `tickets:note` for a note);
- anyone with `messages:edit_any` (admins) edits any message they can read; an agent never
  edits another agent's (or a customer's) message: 403;
- a customer edits their own messages only while the ticket is not closed (409 `ticket_closed`,
  as for replying); they cannot read notes, so asking about one answers 404;
- nobody edits a deleted message: 409 `message_deleted` for staff, 404 for a customer (who is not
  told the message ever existed); nobody edits on a deleted ticket (409 `ticket_deleted`);
- an edit that leaves the text as it was is a no-op: no revision, no history, no event.

Every edit first stores the text being replaced as a `MessageRevision`, so the revisions plus
the message's current text are every text it ever had. Revisions are read through
`readable_messages`: whoever cannot read the message (a customer and a note, anyone and a
deleted message) cannot read its revisions either, and gets the same 404.

The search index follows by itself: SQLite's `messages_fts` has an AFTER UPDATE OF body
trigger, PostgreSQL's `messages.search_vector` is a generated column.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.core.clock import now
from ticketry.core.errors import PermissionDenied
from ticketry.core.text import render_markdown, render_plain_text
from ticketry.history.models import Change
from ticketry.messages.errors import EmptyMessage, MessageDeleted, MessageHeld, MessageNotFound, StaleMessage
from ticketry.messages.models import Message, MessageRevision
from ticketry.messages.repository import message_visibility, readable_messages
from ticketry.tickets import changes as ticket_changes
from ticketry.tickets import lifecycle
from ticketry.tickets.access import access_ticket
from ticketry.tickets.models import Source, Ticket, TicketStatus
from ticketry.users.models import User


@dataclass(frozen=True)
class Revision:
    """One earlier text of a message, with the names of who wrote it and who replaced it."""

    id: int
    body: str
    body_html: str
    written_by_id: int | None
    written_by_name: str | None
    written_at: datetime
    replaced_by_id: int | None
    replaced_by_name: str | None
    replaced_at: datetime


def may_edit(actor: Actor | None, message: Message, ticket: Ticket | None = None) -> bool:
    """Whether to offer the edit action (the rules above; `edit_message` enforces them).
    `ticket` is needed for a customer's (closed tickets take no edits)."""
    if actor is None or message.deleted_at is not None or message.held_reason is not None:
        return False
    if message.author_id != actor.user_id:
        return actor.can(Permission.MESSAGES_EDIT_ANY)
    if actor.is_staff:
        return actor.can(Permission.TICKETS_NOTE if message.is_internal else Permission.TICKETS_REPLY)
    if message.is_internal or not actor.can(Permission.TICKETS_REPLY):
        return False
    return ticket is not None and ticket.status is not TicketStatus.CLOSED


def edit_message(
    session: Session,
    actor: Actor,
    ticket_id: int,
    message_id: int,
    *,
    body: str,
    expected_revisions: int | None = None,
) -> Message:
    """Replace a message's text, keeping the old one as a revision. `expected_revisions` is how
    many revisions the editor saw: given and different, the edit is refused (409
    `stale_message`) instead of silently replacing a text the editor never read."""
    if not body.strip():
        raise EmptyMessage("The message is empty.")
    ticket = ticket_changes.begin(session, actor, ticket_id)
    message = _editable(session, actor, ticket, message_id)
    _ensure_may_edit(actor, ticket, message)
    if message.held_reason is not None:
        # Accepted later, its revisions and whole mail would show the customer what an edit took
        # out: a held mail is accepted as it came, or left where it is.
        raise MessageHeld("A held mail cannot be edited: accept it as it came, or leave it staff-only.")
    count = revision_count(session, message.id)
    if expected_revisions is not None and expected_revisions != count:
        raise StaleMessage(
            "Someone edited this message meanwhile. Check its current text and edit again.",
            details={"revisionCount": count, "body": message.body},
        )
    if body == message.body:
        return message
    stamp = now()
    session.add(
        MessageRevision(
            message_id=message.id,
            body=message.body,
            body_html=message.body_html,
            written_by_id=message.updated_by_id or message.author_id,
            written_at=message.updated_at or message.created_at,
            replaced_by_id=actor.user_id,
            replaced_at=stamp,
        )
    )
    message.body = body
    message.body_html = render_plain_text(body) if message.source is Source.EMAIL else render_markdown(body)
    message.updated_at = stamp
    message.updated_by_id = actor.user_id
    edited = [Change("message", f"#{message.id}", f"#{message.id} edited", internal=message.is_internal)]
    ticket_changes.finish(session, actor, ticket, edited, stamp=stamp)
    return message


def list_revisions(session: Session, actor: Actor, ticket_id: int, message_id: int) -> list[Revision]:
    """The message's earlier texts, newest first; 404 for whoever cannot read the message."""
    access_ticket(session, actor, ticket_id)
    message = _readable(session, actor, ticket_id, message_id)
    writer, replacer = aliased(User), aliased(User)
    rows = session.execute(
        select(MessageRevision, writer.name, replacer.name)
        .outerjoin(writer, writer.id == MessageRevision.written_by_id)
        .outerjoin(replacer, replacer.id == MessageRevision.replaced_by_id)
        .where(MessageRevision.message_id == message.id)
        .order_by(MessageRevision.id.desc())
    )
    return [
        Revision(
            id=revision.id,
            body=revision.body,
            body_html=revision.body_html,
            written_by_id=revision.written_by_id,
            written_by_name=written_by,
            written_at=revision.written_at,
            replaced_by_id=revision.replaced_by_id,
            replaced_by_name=replaced_by,
            replaced_at=revision.replaced_at,
        )
        for revision, written_by, replaced_by in rows
    ]


def get_message(session: Session, actor: Actor, ticket_id: int, message_id: int) -> Message:
    """One message as this actor may read it (with author and files), else 404."""
    access_ticket(session, actor, ticket_id)
    return _readable(session, actor, ticket_id, message_id, with_details=True)


def revision_count(session: Session, message_id: int) -> int:
    query = select(func.count()).select_from(MessageRevision).where(MessageRevision.message_id == message_id)
    return int(session.scalar(query) or 0)


def desk_thread(session: Session, actor: Actor, ticket_id: int) -> list[Message]:
    """The conversation for the desk: what the actor may read, plus, for those who may restore
    them (`tickets:delete`), the deleted messages, which the page shows greyed out. The ticket
    is checked first (`access_ticket`), so the message half of the visibility rule suffices."""
    access_ticket(session, actor, ticket_id, include_deleted=True)
    shown = message_visibility(actor)
    if actor.is_staff and actor.can(Permission.TICKETS_DELETE):
        shown = or_(shown, Message.deleted_at.is_not(None))
    query = (
        select(Message)
        .where(Message.ticket_id == ticket_id, shown)
        .options(joinedload(Message.author), selectinload(Message.attachments))
        .order_by(Message.id)
    )
    return list(session.scalars(query))


def _readable(
    session: Session, actor: Actor, ticket_id: int, message_id: int, *, with_details: bool = False
) -> Message:
    query = readable_messages(actor).where(Message.id == message_id, Message.ticket_id == ticket_id)
    if with_details:
        query = query.options(joinedload(Message.author), selectinload(Message.attachments))
    message = session.scalars(query).one_or_none()
    if message is None:
        raise MessageNotFound(f"Message {message_id} not found.", details={"messageId": message_id})
    return message


def _editable(session: Session, actor: Actor, ticket: Ticket, message_id: int) -> Message:
    """The message, if the actor can read it. Staff learn that a deleted message is deleted
    (they see its deletion in the history); a customer gets the 404 of a message never written."""
    query = readable_messages(actor).where(Message.id == message_id, Message.ticket_id == ticket.id)
    message = session.scalars(query).one_or_none()
    if message is not None:
        return message
    if actor.is_staff:
        deleted = select(Message.id).where(
            Message.id == message_id, Message.ticket_id == ticket.id, Message.deleted_at.is_not(None)
        )
        if session.scalar(deleted) is not None:
            raise MessageDeleted("This message is deleted. Restore it before editing.")
    raise MessageNotFound(f"Message {message_id} not found.", details={"messageId": message_id})


def _ensure_may_edit(actor: Actor, ticket: Ticket, message: Message) -> None:
    if message.author_id != actor.user_id:
        if not actor.can(Permission.MESSAGES_EDIT_ANY):
            raise PermissionDenied(
                "You can only edit your own messages.",
                details={"permission": Permission.MESSAGES_EDIT_ANY.value},
            )
        return
    if actor.is_staff:
        require(actor, Permission.TICKETS_NOTE if message.is_internal else Permission.TICKETS_REPLY)
        return
    require(actor, Permission.TICKETS_REPLY)
    lifecycle.ensure_accepts_replies(ticket)
