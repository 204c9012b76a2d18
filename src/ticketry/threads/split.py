"""Split chosen messages off into a new ticket (docs/product.md §3, issue 6 part 6).

The new ticket has the same customer, department, priority and category; the chosen messages
(and their files) move to it and remember where they came from; the two tickets are linked as
related, and both histories say so. The description of the original stays where it is.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ticketry.attachments.models import Attachment
from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.core.clock import now
from ticketry.core.text import render_plain_text
from ticketry.history.models import Change
from ticketry.messages.errors import MessageNotFound
from ticketry.messages.models import Message
from ticketry.messages.repository import readable_messages
from ticketry.sitesettings import service as site_settings
from ticketry.threads.errors import InvalidSplit, TicketIsMerged
from ticketry.tickets import changes as ticket_changes
from ticketry.tickets import numbering
from ticketry.tickets.models import LinkKind, Ticket, TicketLink, TicketStatus

MAX_MESSAGES = 500


def split_ticket(
    session: Session, actor: Actor, ticket_id: int, message_ids: Sequence[int], *, title: str | None = None
) -> Ticket:
    """Move the chosen messages to a new ticket and return it."""
    source = ticket_changes.begin(session, actor, ticket_id)
    require(actor, Permission.TICKETS_MERGE)
    if source.merged_into_id is not None:
        raise TicketIsMerged(f"{source.number} is merged into another ticket. Unmerge it first.")
    wanted = list(dict.fromkeys(message_ids))
    if not wanted:
        raise InvalidSplit("Choose at least one message to split off.", details={"field": "messageIds"})
    if len(wanted) > MAX_MESSAGES:
        raise InvalidSplit(f"Split at most {MAX_MESSAGES} messages at once.", details={"field": "messageIds"})
    found = set(
        session.scalars(
            readable_messages(actor)
            .with_only_columns(Message.id)
            .where(Message.id.in_(wanted), Message.ticket_id == source.id)
        )
    )
    missing = [m for m in wanted if m not in found]
    if missing:
        raise MessageNotFound(
            f"Message {missing[0]} is not part of {source.number}.", details={"messageIds": missing}
        )
    stamp = now()
    heading = " ".join((title or f"Split from {source.number}: {source.title}").split())[:200]
    if not heading:
        raise InvalidSplit("The new ticket needs a title.", details={"field": "title"})
    description = f"Split from {source.number} ({source.title})."
    ticket = Ticket(
        number=numbering.next_number(session, prefix=site_settings.current(session).ticket_prefix, at=stamp),
        title=heading,
        description=description,
        description_html=render_plain_text(description),
        status=TicketStatus.OPEN,
        priority=source.priority,
        department_id=source.department_id,
        category_id=source.category_id,
        customer_id=source.customer_id,
        source=source.source,
        created_at=stamp,
        updated_at=stamp,
        public_updated_at=stamp,
        created_by_id=actor.user_id,
        updated_by_id=actor.user_id,
    )
    session.add(ticket)
    session.flush()
    ticket.first_response_at = session.scalar(
        select(Message.created_at)
        .where(
            Message.id.in_(wanted),
            Message.is_staff_reply.is_(True),
            Message.is_internal.is_(False),
            Message.deleted_at.is_(None),
        )
        .order_by(Message.created_at)
        .limit(1)
    )
    session.execute(
        update(Message)
        .where(Message.id.in_(wanted))
        .values(ticket_id=ticket.id, moved_from_ticket_id=source.id)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(Attachment)
        .where(Attachment.message_id.in_(wanted))
        .values(ticket_id=ticket.id)
        .execution_options(synchronize_session=False)
    )
    session.add(
        TicketLink(
            source_id=source.id, target_id=ticket.id, kind=LinkKind.RELATED, created_by_id=actor.user_id
        )
    )
    # The moved messages leave the source's conversation: its customer sees that if any was public.
    moved_public = session.scalar(
        select(Message.id).where(Message.id.in_(wanted), Message.is_internal.is_(False)).limit(1)
    )
    count = f"{len(wanted)} message(s)"
    ticket_changes.finish(
        session,
        actor,
        source,
        [Change("split_into", None, ticket.number, internal=True)],
        reason=f"{count} moved to {ticket.number}",
        stamp=stamp,
        public=moved_public is not None,
    )
    ticket_changes.created(
        session,
        actor,
        ticket,
        [Change("ticket", None, "created"), Change("split_from", None, source.number, internal=True)],
        reason=f"{count} moved here from {source.number}",
    )
    session.expire_all()
    return ticket
