"""Opening a ticket (docs/product.md §2): a customer files for themself, staff may file for a customer, and
mail opens one through the same use case (`mail.inbound.ingest`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ticketry.attachments import service as attachments
from ticketry.attachments.service import NewFiles
from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.core.clock import now
from ticketry.core.errors import PermissionDenied
from ticketry.core.text import render_markdown, render_plain_text
from ticketry.history.models import Change
from ticketry.sitesettings import service as site_settings
from ticketry.tickets import changes as ticket_changes
from ticketry.tickets import events as ticket_events
from ticketry.tickets import numbering
from ticketry.tickets import tags as tag_service
from ticketry.tickets.categories import active_category
from ticketry.tickets.models import Priority, Source, Ticket, TicketStatus
from ticketry.users import service as users
from ticketry.users.models import Department, User


def department_of(session: Session, ref: str | int | None) -> Department:
    """The department a ticket goes to, by id or slug; none given is "general"."""
    if ref is None or ref == "":
        return users.find_department(session, "general")
    return users.find_department(session, ref)


def create_ticket(
    session: Session,
    actor: Actor,
    *,
    title: str,
    description: str,
    priority: Priority = Priority.MEDIUM,
    department: str | int | None = None,
    category_id: int | None = None,
    customer_id: int | None = None,
    source: Source = Source.WEB,
    tags: Sequence[str] = (),
    files: NewFiles | None = None,
    mail: MailBody | None = None,
) -> Ticket:
    """Open a ticket. A customer always files for themself; staff may file for a customer.
    `files` go with the description; `mail` is set when the ticket came by mail. The ticket comes
    back with everything its views show loaded (customer, tags, files …): nothing is read again."""
    require(actor, Permission.TICKETS_CREATE)
    if actor.can(Permission.TICKETS_CREATE_FOR_OTHERS) and customer_id is not None:
        customer = users.get_user(session, customer_id)
    else:
        customer = _requester(session, actor)
    stamp = now()
    ticket = Ticket(
        number=numbering.next_number(session, prefix=site_settings.current(session).ticket_prefix, at=stamp),
        title=title,
        description=description,
        description_html=render_plain_text(description) if mail else render_markdown(description),
        mail_text=mail.text if mail else None,
        mail_html=mail.html if mail else None,
        status=TicketStatus.OPEN,
        priority=priority,
        department=department_of(session, department),
        category=active_category(session, category_id),
        customer_id=customer.id,
        source=source,
        created_at=stamp,
        updated_at=stamp,
        public_updated_at=stamp,
        created_by_id=actor.user_id,
        updated_by_id=actor.user_id,
        tags=tag_service.resolve(session, actor, list(tags)) if actor.is_staff else [],
    )
    session.add(ticket)
    session.flush()
    described = attachments.attach(session, actor, files, ticket_id=ticket.id) if files else []
    if described:
        session.flush()
    # What a new ticket's relationships hold, known without asking the database.
    for name, value in (
        ("customer", customer),
        ("assignee", None),
        ("watchers", []),
        ("attachments", sorted(described, key=lambda attachment: attachment.id)),
    ):
        set_committed_value(ticket, name, value)
    ticket_changes.created(
        session,
        actor,
        ticket,
        [Change("ticket", None, "created")],
        event=ticket_events.CREATED({"ticket_id": ticket.id}),
    )
    return ticket


def _requester(session: Session, actor: Actor) -> User:
    """The actor's own row, by primary key (the session's copy when it has one)."""
    user = session.get(User, actor.user_id)
    if user is None:  # deleted between authentication and now
        raise PermissionDenied("Your account no longer exists.")
    return user


@dataclass(frozen=True)
class MailBody:
    """The whole mail a ticket came from, kept beside its description (quoted history stripped)."""

    text: str
    html: str | None
