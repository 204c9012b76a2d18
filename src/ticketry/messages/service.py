"""Posting replies and notes, and reading a ticket's conversation (docs/product.md §2 "Messages")."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from ticketry.attachments import service as attachments
from ticketry.attachments.service import NewFiles
from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.core.clock import now
from ticketry.core.errors import PermissionDenied
from ticketry.core.text import render_markdown, render_plain_text
from ticketry.history.models import Change
from ticketry.messages import events as message_events
from ticketry.messages.attachments import readable_bytes
from ticketry.messages.errors import EmptyMessage, MessageNotDeleted, MessageNotFound
from ticketry.messages.models import Message
from ticketry.messages.repository import message_visibility, readable_messages
from ticketry.tickets import changes as ticket_changes
from ticketry.tickets import lifecycle
from ticketry.tickets import service as ticket_service
from ticketry.tickets.access import access_ticket
from ticketry.tickets.models import Source, Ticket, TicketStatus
from ticketry.users.models import User


def list_messages(session: Session, actor: Actor, ticket_id: int) -> list[Message]:
    """The conversation as this actor may read it, oldest first. The ticket is checked once by
    `access_ticket`; its messages then need only their own half of `readable_messages`."""
    access_ticket(session, actor, ticket_id)
    query = (
        select(Message)
        .where(Message.ticket_id == ticket_id, message_visibility(actor))
        .options(joinedload(Message.author), selectinload(Message.attachments))
        .order_by(Message.id)
    )
    return list(session.scalars(query))


def post_reply(
    session: Session,
    actor: Actor,
    ticket_id: int,
    *,
    body: str,
    is_internal: bool = False,
    is_solution: bool = False,
    source: Source = Source.WEB,
    then_status: TicketStatus | None = None,
    files: NewFiles | None = None,
) -> Message:
    """A public reply or an internal note, with the automatic status rules of docs/product.md §2.
    `then_status` is the desk's "send and set status": one transaction, both or neither.
    `files` go with the message; a message of files alone needs no text."""
    if not body.strip() and not files:
        raise EmptyMessage("The message is empty.")
    ticket = ticket_changes.begin(session, actor, ticket_id)
    stamp = now()
    if actor.is_staff:
        require(actor, Permission.TICKETS_NOTE if is_internal else Permission.TICKETS_REPLY)
        changes = lifecycle.on_staff_reply(ticket, stamp, internal=is_internal)
    else:
        _ensure_customer_may_reply(actor, ticket, is_internal=is_internal, is_solution=is_solution)
        changes = lifecycle.on_customer_reply(ticket, stamp)
    message = Message(
        ticket_id=ticket.id,
        author_id=actor.user_id,
        body=body,
        body_html=render_markdown(body),
        is_internal=is_internal,
        is_staff_reply=actor.is_staff,
        is_solution=is_solution and actor.is_staff and not is_internal,
        source=source,
        created_at=stamp,
    )
    used = readable_bytes(session, actor, ticket.id) if files else 0
    _append(session, actor, ticket, message, changes, files=files, used=used)
    if then_status is not None and then_status is not ticket.status:
        ticket_service.change_status(session, actor, ticket.id, status=then_status)
    return message


def post_mail_reply(
    session: Session,
    author: Actor,
    ticket_id: int,
    *,
    body: str,
    is_internal: bool,
    mail_text: str,
    mail_html: str | None,
    files: NewFiles | None = None,
    used: int = 0,
    held_reason: str | None = None,
) -> Message:
    """A reply that arrived by mail. The mail channel has already decided that its author may
    write on this ticket (a signed reply clue, or a sender on the ticket: issue 5 part 4), so
    there is no access check here; the status rules are the web's. `body` is the new text
    (quoted history stripped); `mail_text` / `mail_html` keep the whole mail for display.

    With `held_reason` the mail channel would not let it speak (docs/product.md §4: an outsider, a sender
    that failed its checks): it is a staff-only message that changes no status, until an agent
    accepts it (`accept_held`)."""
    ticket = ticket_changes.begin_trusted(session, ticket_id)
    stamp = now()
    held = held_reason is not None
    if held:
        changes = []
    elif author.is_staff:
        changes = lifecycle.on_staff_reply(ticket, stamp, internal=is_internal)
    else:
        changes = lifecycle.on_customer_reply(ticket, stamp)
    message = Message(
        ticket_id=ticket.id,
        author_id=author.user_id,
        body=body,
        body_html=render_plain_text(body),
        is_internal=is_internal or held,
        is_staff_reply=author.is_staff and not held,
        source=Source.EMAIL,
        mail_text=mail_text,
        mail_html=mail_html,
        created_at=stamp,
        held_reason=held_reason[:2000] if held_reason is not None else None,
    )
    _append(session, author, ticket, message, changes, files=files, used=used)
    return message


def _append(
    session: Session,
    actor: Actor,
    ticket: Ticket,
    message: Message,
    changes: list[Change],
    *,
    files: NewFiles | None,
    used: int,
) -> None:
    """Add the message with its files, its history and its event, in the caller's transaction.
    The message comes back with its author and files loaded: its view reads nothing again."""
    session.add(message)
    session.flush()
    described = (
        attachments.attach(session, actor, files, ticket_id=ticket.id, message_id=message.id, used=used)
        if files
        else []
    )
    if described:
        session.flush()
    set_committed_value(message, "attachments", sorted(described, key=lambda attachment: attachment.id))
    if "author" in inspect(message).unloaded:
        set_committed_value(message, "author", session.get(User, message.author_id))
    kind = "held_mail" if message.held_reason is not None else "note" if message.is_internal else "reply"
    recorded = [Change(kind, None, f"#{message.id}", internal=message.is_internal), *changes]
    written = message_events.CREATED(
        {
            "ticket_id": ticket.id,
            "message_id": message.id,
            "internal": message.is_internal,
            "staff": actor.is_staff,
        }
    )
    ticket_changes.finish(session, actor, ticket, recorded, stamp=message.created_at, event=written)


def _ensure_customer_may_reply(actor: Actor, ticket: Ticket, *, is_internal: bool, is_solution: bool) -> None:
    require(actor, Permission.TICKETS_REPLY)
    if is_internal or is_solution:
        raise PermissionDenied("Customers cannot write internal notes or mark solutions.")
    if ticket.customer_id != actor.user_id:
        raise PermissionDenied("Only the person who opened this ticket can reply to it.")
    lifecycle.ensure_accepts_replies(ticket)


def load_for_view(session: Session, message: Message) -> Message:
    session.flush()
    return session.scalars(
        select(Message)
        .where(Message.id == message.id)
        .options(joinedload(Message.author), selectinload(Message.attachments))
        .execution_options(populate_existing=True)
    ).one()


# --- deleting -----------------------------------------------------------------------------------


def delete_message(session: Session, actor: Actor, ticket_id: int, message_id: int) -> None:
    """Soft delete (admins): the message and its files disappear for everyone, and the files are
    purged after the retention period unless the message is restored first."""
    ticket = ticket_changes.begin(session, actor, ticket_id)
    message = session.scalars(
        readable_messages(actor).where(Message.id == message_id, Message.ticket_id == ticket.id)
    ).one_or_none()
    if message is None:
        raise MessageNotFound(f"Message {message_id} not found.", details={"messageId": message_id})
    require(actor, Permission.TICKETS_DELETE)
    stamp = now()
    message.deleted_at = stamp
    message.deleted_by_id = actor.user_id
    attachments.soft_delete(session, message_id=message.id, at=stamp)
    _touched(session, actor, ticket, message, stamp, Change("message", f"#{message.id}", None, internal=True))


def restore_message(session: Session, actor: Actor, ticket_id: int, message_id: int) -> Message:
    """Bring a deleted message back, with exactly the files deleted with it."""
    ticket = ticket_changes.begin(session, actor, ticket_id)
    require(actor, Permission.TICKETS_DELETE)
    message = session.scalars(
        select(Message).where(Message.id == message_id, Message.ticket_id == ticket.id)
    ).one_or_none()
    if message is None:
        raise MessageNotFound(f"Message {message_id} not found.", details={"messageId": message_id})
    if message.deleted_at is None:
        raise MessageNotDeleted("This message is not deleted.")
    attachments.restore(session, message_id=message.id, deleted_at=message.deleted_at)
    message.deleted_at = None
    message.deleted_by_id = None
    _touched(session, actor, ticket, message, now(), Change("message", None, f"#{message.id}", internal=True))
    return message


def _touched(
    session: Session, actor: Actor, ticket: Ticket, message: Message, stamp: datetime, change: Change
) -> None:
    """A message went or came back: customers see that only of a public one."""
    ticket_changes.finish(session, actor, ticket, [change], stamp=stamp, public=not message.is_internal)
