"""Ticket use cases: the only code that changes tickets (SPEC §2, §3).

Each use case checks access and permission, changes the ticket, records history and enqueues
its side effects, all in the caller's transaction; it only ever flushes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from ticketry.attachments import service as attachments
from ticketry.attachments.service import NewFiles
from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.core.clock import now
from ticketry.core.errors import DomainError, PermissionDenied
from ticketry.core.text import render_markdown, render_plain_text
from ticketry.history import service as history
from ticketry.history.models import Change, TicketEvent
from ticketry.jobs import service as jobs
from ticketry.realtime import broker as realtime
from ticketry.sitesettings import service as site_settings
from ticketry.tickets import changes as ticket_changes
from ticketry.tickets import lifecycle, numbering
from ticketry.tickets import tags as tag_service
from ticketry.tickets.access import access_ticket
from ticketry.tickets.errors import (
    CategoryNameTaken,
    CategoryNotFound,
    EditNotAllowed,
    InvalidTicketField,
    NotDeleted,
    StaleTicket,
    TicketClosed,
    TicketDeleted,
)
from ticketry.tickets.models import Category, Priority, Source, Ticket, TicketStatus
from ticketry.users import service as users
from ticketry.users.models import Department, User

# Many-to-one relations join into the ticket query itself.
_TICKET_JOINS = (
    joinedload(Ticket.department, innerjoin=True),
    joinedload(Ticket.category),
    joinedload(Ticket.customer, innerjoin=True),
    joinedload(Ticket.assignee),
)
# Relationships every ticket view needs, loaded in one go; only tags need a second query.
TICKET_LOAD = (*_TICKET_JOINS, selectinload(Ticket.tags))
# A customer's list shows department and category only (`TicketCustomerListItem`, the portal).
CUSTOMER_LIST_LOAD = _TICKET_JOINS[:2]
# One ticket on its own page or in an API answer also shows the description's files.
# ... and, to staff, who watches it.
TICKET_DETAIL_LOAD = (*TICKET_LOAD, selectinload(Ticket.attachments), selectinload(Ticket.watchers))
# Customers are shown neither tags nor watchers (`TicketCustomerView`): two queries fewer.
CUSTOMER_DETAIL_LOAD = (*_TICKET_JOINS, selectinload(Ticket.attachments))
STAFF_FIELDS = frozenset({"priority", "department", "category_id", "tags", "customer_id"})
CUSTOMER_EDITABLE = frozenset({"title", "description"})


# --- reading ------------------------------------------------------------------------------------


def get_ticket(session: Session, actor: Actor, ticket_id: int, *, include_deleted: bool = False) -> Ticket:
    options = TICKET_DETAIL_LOAD if actor.is_staff else CUSTOMER_DETAIL_LOAD
    return access_ticket(session, actor, ticket_id, include_deleted=include_deleted, options=options)


def timeline(session: Session, actor: Actor, ticket_id: int) -> list[TicketEvent]:
    """The ticket's history as this actor may see it."""
    access_ticket(session, actor, ticket_id, include_deleted=True)
    return history.timeline(session, actor, ticket_id)


def load_for_view(session: Session, ticket: Ticket) -> Ticket:
    """Reload a ticket with what its views show, after a use case changed it."""
    session.flush()
    return session.scalars(
        select(Ticket)
        .where(Ticket.id == ticket.id)
        .options(*TICKET_DETAIL_LOAD)
        .execution_options(populate_existing=True)
    ).one()


# --- helpers ------------------------------------------------------------------------------------


def _check_version(ticket: Ticket, expected: int | None, actor: Actor) -> None:
    """Staff send back `version`; customers the version their side shows (`public_version`),
    which staff-only work never moves (see `tickets.changes`)."""
    current = ticket.version if actor.is_staff else ticket.public_version
    if expected is not None and expected != current:
        raise stale(ticket, actor)


def stale(ticket: Ticket, actor: Actor) -> StaleTicket:
    version = ticket.version if actor.is_staff else ticket.public_version
    updated = ticket.updated_at if actor.is_staff else ticket.customer_updated_at
    current: dict[str, Any] = {
        "id": ticket.id,
        "version": version,
        "status": ticket.status.value,
        "title": ticket.title,
        "updatedAt": updated.isoformat(),
    }
    if actor.is_staff:
        current |= {"priority": ticket.priority.value, "assigneeId": ticket.assignee_id}
    return StaleTicket(
        "The ticket was changed by someone else since you loaded it. Reload and try again.",
        details={"currentVersion": version, "current": current},
    )


def _flush_versioned(session: Session, ticket: Ticket, actor: Actor) -> None:
    """Flush; a concurrent writer that got there first turns into a 409, not a 500."""
    try:
        session.flush()
    except StaleDataError as error:
        session.expire(ticket)
        raise stale(ticket, actor) from error


def _ensure_not_deleted(ticket: Ticket) -> None:
    if ticket.deleted_at is not None:
        raise TicketDeleted("This ticket is deleted. Restore it first.")


def _access_live(session: Session, actor: Actor, ticket_id: int) -> Ticket:
    """Lock a ticket to change it. A deleted one is a 409 for those who can see it (admins), so
    they are told to restore it rather than that it does not exist; others still get 404."""
    ticket = access_ticket(session, actor, ticket_id, lock=True, include_deleted=True, options=TICKET_LOAD)
    _ensure_not_deleted(ticket)
    return ticket


def _ensure_requester(actor: Actor, ticket: Ticket, action: str) -> None:
    """Customers act only on tickets they filed (colleagues in a shared organization only read)."""
    if not actor.is_staff and ticket.customer_id != actor.user_id:
        raise PermissionDenied(f"Only the person who opened this ticket can {action} it.")


def _department(session: Session, ref: str | int | None) -> Department:
    if ref is None or ref == "":
        return users.find_department(session, "general")
    return users.find_department(session, ref)


def _category(session: Session, category_id: int | None) -> Category | None:
    if category_id is None:
        return None
    category = session.get(Category, category_id)
    if category is None or not category.is_active:
        raise CategoryNotFound(f"Category {category_id} does not exist.", details={"categoryId": category_id})
    return category


def _name(user: User | None) -> str | None:
    return user.name if user is not None else None


# --- creating -----------------------------------------------------------------------------------


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
        department=_department(session, department),
        category=_category(session, category_id),
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
    history.record(session, ticket.id, actor, [Change("ticket", None, "created")])
    jobs.enqueue(session, "tickets.created", ticket_id=ticket.id)
    realtime.publish(session, realtime.DESK_CHANNEL, "created")
    realtime.publish(session, realtime.customer_channel(customer.id), "created")
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


# --- editing ------------------------------------------------------------------------------------


@dataclass
class TicketEdit:
    """The fields a PUT/PATCH may carry; `provided` says which were sent (PATCH semantics)."""

    provided: frozenset[str]
    title: str | None = None
    description: str | None = None
    priority: Priority | None = None
    department: str | int | None = None
    category_id: int | None = None
    tags: list[str] = field(default_factory=list)


def update_ticket(
    session: Session, actor: Actor, ticket_id: int, *, edit: TicketEdit, expected_version: int | None = None
) -> Ticket:
    ticket = _access_live(session, actor, ticket_id)
    _check_version(ticket, expected_version, actor)
    if actor.is_staff:
        require(actor, Permission.TICKETS_UPDATE)
    else:
        _ensure_customer_may_edit(actor, ticket, edit.provided)
    # One edit is one new version: the lookups below must not autoflush the fields set before them.
    with session.no_autoflush:
        changes = _apply_edit(session, actor, ticket, edit)
    if changes:
        ticket_changes.touch(session, ticket, actor.user_id, changes)
        _flush_versioned(session, ticket, actor)
        history.record(session, ticket.id, actor, changes)
        jobs.enqueue(
            session,
            "tickets.updated",
            ticket_id=ticket.id,
            fields=[c.field for c in changes],
            actor_id=actor.user_id,
        )
    return ticket


def _apply_edit(session: Session, actor: Actor, ticket: Ticket, edit: TicketEdit) -> list[Change]:
    changes: list[Change] = []
    if "title" in edit.provided and edit.title is not None and edit.title != ticket.title:
        changes.append(Change("title", ticket.title, edit.title))
        ticket.title = edit.title
    if (
        "description" in edit.provided
        and edit.description is not None
        and edit.description != ticket.description
    ):
        changes.append(Change("description", ticket.description, edit.description))
        ticket.description = edit.description
        ticket.description_html = render_markdown(edit.description)
    if "priority" in edit.provided and edit.priority is not None and edit.priority != ticket.priority:
        changes.append(Change("priority", ticket.priority.value, edit.priority.value))
        ticket.priority = edit.priority
    if "department" in edit.provided and edit.department is not None:
        department = _department(session, edit.department)
        if department.id != ticket.department_id:
            changes.append(Change("department", ticket.department.name, department.name))
            ticket.department = department
    if "category_id" in edit.provided:
        category = _category(session, edit.category_id)
        if (category.id if category else None) != ticket.category_id:
            old = ticket.category.name if ticket.category else None
            changes.append(Change("category", old, category.name if category else None))
            ticket.category = category
    if "tags" in edit.provided:
        tags = tag_service.resolve(session, actor, edit.tags)
        old_names = ", ".join(t.name for t in ticket.tags) or None
        new_names = ", ".join(t.name for t in tags) or None
        if old_names != new_names:
            changes.append(Change("tags", old_names, new_names, internal=True))
            ticket.tags = tags
    return changes


def add_tag(session: Session, actor: Actor, ticket_id: int, name: str) -> Ticket:
    """Put one tag on a ticket, creating it if the actor may create tags (SPEC §3)."""
    ticket = _access_live(session, actor, ticket_id)
    require(actor, Permission.TICKETS_UPDATE)
    names = [*(t.name for t in ticket.tags), name]
    return update_ticket(session, actor, ticket_id, edit=TicketEdit(provided=frozenset({"tags"}), tags=names))


def remove_tag(session: Session, actor: Actor, ticket_id: int, name: str) -> Ticket:
    ticket = _access_live(session, actor, ticket_id)
    require(actor, Permission.TICKETS_UPDATE)
    gone = tag_service.clean_name(name)
    names = [t.name for t in ticket.tags if t.name != gone]
    return update_ticket(session, actor, ticket_id, edit=TicketEdit(provided=frozenset({"tags"}), tags=names))


def _ensure_customer_may_edit(actor: Actor, ticket: Ticket, provided: frozenset[str]) -> None:
    """SPEC §1: title/description of an own ticket while it is open and has no staff reply."""
    _ensure_requester(actor, ticket, "edit")
    forbidden = sorted(provided - CUSTOMER_EDITABLE)
    if forbidden:
        raise EditNotAllowed(
            "Customers can change only the title and description.", details={"fields": forbidden}
        )
    if ticket.status is not TicketStatus.OPEN or ticket.first_response_at is not None:
        raise EditNotAllowed(
            "The ticket can no longer be edited: it has been answered or is no longer open. "
            "Add a reply instead."
        )


# --- status -------------------------------------------------------------------------------------


def change_status(
    session: Session,
    actor: Actor,
    ticket_id: int,
    *,
    status: TicketStatus,
    reason: str | None = None,
    expected_version: int | None = None,
) -> Ticket:
    ticket = _access_live(session, actor, ticket_id)
    _check_version(ticket, expected_version, actor)
    if actor.is_staff:
        require(actor, Permission.TICKETS_STATUS)
    else:
        _ensure_customer_may_set(actor, ticket, status)
    if ticket.merged_into_id is not None and status is not ticket.status:
        raise TicketClosed(
            "This ticket was merged into another one and stays closed; unmerge it to reopen it.",
            details={"status": ticket.status.value},
        )
    changes = lifecycle.change_status(ticket, status, now())
    ticket.status_reason = reason
    ticket_changes.touch(session, ticket, actor.user_id, changes)
    _flush_versioned(session, ticket, actor)
    history.record(session, ticket.id, actor, changes, reason=reason)
    jobs.enqueue(
        session, "tickets.status_changed", ticket_id=ticket.id, status=status.value, actor_id=actor.user_id
    )
    return ticket


def _ensure_customer_may_set(actor: Actor, ticket: Ticket, status: TicketStatus) -> None:
    """Customers close their own tickets and reopen them; nothing else (SPEC §1)."""
    _ensure_requester(actor, ticket, "change the status of")
    if status is TicketStatus.CLOSED:
        require(actor, Permission.TICKETS_CLOSE)
    elif not (status is TicketStatus.OPEN and ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED)):
        raise PermissionDenied(
            "Customers can close their tickets and reopen closed or resolved ones.",
            details={"allowed": ["closed", "open"]},
        )


def close_ticket(session: Session, actor: Actor, ticket_id: int, *, reason: str | None = None) -> Ticket:
    return change_status(session, actor, ticket_id, status=TicketStatus.CLOSED, reason=reason)


def reopen_ticket(session: Session, actor: Actor, ticket_id: int, *, reason: str | None = None) -> Ticket:
    return change_status(session, actor, ticket_id, status=TicketStatus.OPEN, reason=reason)


# --- assignment ---------------------------------------------------------------------------------


def assign_ticket(session: Session, actor: Actor, ticket_id: int, *, assignee_id: int) -> Ticket:
    """Assign; an open ticket moves to in_progress (SPEC §2). Agents may only take unassigned
    tickets for themselves; assigning anyone else is an admin's `tickets:assign`."""
    ticket = _access_live(session, actor, ticket_id)
    if not actor.can(Permission.TICKETS_ASSIGN):
        require(actor, Permission.TICKETS_UPDATE)
        if assignee_id != actor.user_id or ticket.assignee_id not in (None, actor.user_id):
            raise PermissionDenied(
                "Agents can take unassigned tickets for themselves; use transfer to hand one over."
            )
    assignee = users.get_agent(session, assignee_id)
    if ticket.assignee_id == assignee.id:
        return ticket
    return _set_assignee(session, actor, ticket, assignee, reason=None, event="tickets.assigned")


def unassign_ticket(session: Session, actor: Actor, ticket_id: int) -> Ticket:
    """Unassign; an in_progress ticket goes back to open. Admins, or the assignee themself."""
    ticket = _access_live(session, actor, ticket_id)
    if not actor.can(Permission.TICKETS_ASSIGN):
        require(actor, Permission.TICKETS_UPDATE)
        if ticket.assignee_id != actor.user_id:
            raise PermissionDenied("Only an admin or the current assignee can unassign this ticket.")
    if ticket.assignee_id is None:
        return ticket
    return _set_assignee(session, actor, ticket, None, reason=None, event="tickets.unassigned")


def transfer_ticket(
    session: Session, actor: Actor, ticket_id: int, *, to_agent_id: int, note: str | None = None
) -> Ticket:
    """The assignee hands the ticket to another agent, with a note kept in history (SPEC §3)."""
    ticket = _access_live(session, actor, ticket_id)
    require(actor, Permission.TICKETS_TRANSFER)
    if ticket.assignee_id != actor.user_id and not actor.can(Permission.TICKETS_ASSIGN):
        raise PermissionDenied("Only the current assignee (or an admin) can transfer this ticket.")
    target = users.get_agent(session, to_agent_id)
    if target.id == ticket.assignee_id:
        raise InvalidTicketField(
            "The ticket is already assigned to this agent.", details={"toAgentId": target.id}
        )
    return _set_assignee(session, actor, ticket, target, reason=note, event="tickets.transferred")


def _set_assignee(
    session: Session, actor: Actor, ticket: Ticket, assignee: User | None, *, reason: str | None, event: str
) -> Ticket:
    stamp = now()
    changes = [Change("assignee", _name(ticket.assignee), _name(assignee), internal=True)]
    previous = ticket.assignee_id
    ticket.assignee = assignee
    changes += lifecycle.on_assign(ticket, stamp) if assignee else lifecycle.on_unassign(ticket, stamp)
    ticket_changes.touch(session, ticket, actor.user_id, changes, stamp=stamp)
    _flush_versioned(session, ticket, actor)
    history.record(session, ticket.id, actor, changes, reason=reason)
    jobs.enqueue(
        session,
        event,
        ticket_id=ticket.id,
        assignee_id=ticket.assignee_id,
        previous_assignee_id=previous,
        actor_id=actor.user_id,
    )
    return ticket


# --- deletion -----------------------------------------------------------------------------------


def delete_ticket(session: Session, actor: Actor, ticket_id: int) -> Ticket:
    """Soft delete. Visibility is checked before the permission, so a ticket the actor cannot
    see answers 404 like every other action on it (SPEC §1: do not reveal existence)."""
    ticket = _access_live(session, actor, ticket_id)
    require(actor, Permission.TICKETS_DELETE)
    ticket.deleted_at = now()
    ticket.deleted_by_id = actor.user_id
    attachments.soft_delete(session, ticket_id=ticket.id, at=ticket.deleted_at)
    deleted = [Change("deleted", None, "yes", internal=True)]
    ticket_changes.touch(session, ticket, actor.user_id, deleted)
    _flush_versioned(session, ticket, actor)
    history.record(session, ticket.id, actor, deleted)
    jobs.enqueue(session, "tickets.deleted", ticket_id=ticket.id)
    return ticket


def restore_ticket(session: Session, actor: Actor, ticket_id: int) -> Ticket:
    """Deleted tickets exist only for those who may restore them; to anyone else they are 404."""
    ticket = access_ticket(session, actor, ticket_id, lock=True, include_deleted=True, options=TICKET_LOAD)
    require(actor, Permission.TICKETS_DELETE)
    if ticket.deleted_at is None:
        raise NotDeleted("This ticket is not deleted.")
    attachments.restore(session, ticket_id=ticket.id, deleted_at=ticket.deleted_at)
    ticket.deleted_at = None
    ticket.deleted_by_id = None
    restored = [Change("deleted", "yes", None, internal=True)]
    ticket_changes.touch(session, ticket, actor.user_id, restored)
    _flush_versioned(session, ticket, actor)
    history.record(session, ticket.id, actor, restored)
    jobs.enqueue(session, "tickets.restored", ticket_id=ticket.id)
    return ticket


# --- bulk ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkResult:
    ticket_id: int
    ok: bool
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True)
class BulkChange:
    status: TicketStatus | None = None
    priority: Priority | None = None
    assignee_id: int | None = None
    unassign: bool = False
    department: str | int | None = None
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()


def bulk_update(
    session: Session, actor: Actor, ticket_ids: Sequence[int], *, change: BulkChange
) -> list[BulkResult]:
    """Apply one change to many tickets; each ticket succeeds or fails on its own (a savepoint each)."""
    require(actor, Permission.TICKETS_BULK)
    results: list[BulkResult] = []
    for ticket_id in dict.fromkeys(ticket_ids):
        try:
            with session.begin_nested():
                _apply_bulk(session, actor, ticket_id, change)
            results.append(BulkResult(ticket_id=ticket_id, ok=True))
        except DomainError as error:
            results.append(
                BulkResult(ticket_id, ok=False, error_code=error.code, error_message=error.message)
            )
    return results


def _apply_bulk(session: Session, actor: Actor, ticket_id: int, change: BulkChange) -> None:
    provided = {
        name
        for name, value in (("priority", change.priority), ("department", change.department))
        if value is not None
    }
    if change.add_tags or change.remove_tags:
        ticket = access_ticket(session, actor, ticket_id, options=TICKET_LOAD)
        current = {t.name for t in ticket.tags}
        added = {tag_service.clean_name(t) for t in change.add_tags}
        wanted = (current | added) - {tag_service.clean_name(t) for t in change.remove_tags}
        update_ticket(
            session,
            actor,
            ticket_id,
            edit=TicketEdit(
                provided=frozenset(provided | {"tags"}),
                priority=change.priority,
                department=change.department,
                tags=sorted(wanted),
            ),
        )
    elif provided:
        update_ticket(
            session,
            actor,
            ticket_id,
            edit=TicketEdit(
                provided=frozenset(provided), priority=change.priority, department=change.department
            ),
        )
    if change.unassign:
        unassign_ticket(session, actor, ticket_id)
    elif change.assignee_id is not None:
        assign_ticket(session, actor, ticket_id, assignee_id=change.assignee_id)
    if change.status is not None:
        current_status = access_ticket(session, actor, ticket_id).status
        if current_status is not change.status:
            change_status(session, actor, ticket_id, status=change.status)


# --- categories ---------------------------------------------------------------------------------


def list_categories(session: Session, *, include_inactive: bool = False) -> list[Category]:
    query = select(Category).order_by(Category.name)
    if not include_inactive:
        query = query.where(Category.is_active.is_(True))
    return list(session.scalars(query))


def manage_categories(session: Session, actor: Actor) -> list[Category]:
    """Every category, inactive ones too, for the admin who maintains them."""
    require(actor, Permission.ADMIN_DIRECTORY)
    return list_categories(session, include_inactive=True)


def create_category(session: Session, actor: Actor, *, name: str, description: str = "") -> Category:
    require(actor, Permission.ADMIN_DIRECTORY)
    if session.scalar(select(Category.id).where(func.lower(Category.name) == name.lower())):
        raise CategoryNameTaken("A category with this name exists.", details={"name": name})
    category = Category(name=name, description=description)
    session.add(category)
    session.flush()
    return category


def update_category(
    session: Session,
    actor: Actor,
    category_id: int,
    *,
    name: str | None,
    description: str | None,
    is_active: bool | None,
) -> Category:
    require(actor, Permission.ADMIN_DIRECTORY)
    category = session.get(Category, category_id)
    if category is None:
        raise CategoryNotFound(f"Category {category_id} does not exist.")
    if name is not None and name.lower() != category.name.lower():
        if session.scalar(select(Category.id).where(func.lower(Category.name) == name.lower())):
            raise CategoryNameTaken("A category with this name exists.", details={"name": name})
        category.name = name
    if description is not None:
        category.description = description
    if is_active is not None:
        category.is_active = is_active
    session.flush()
    return category


def delete_category(session: Session, actor: Actor, category_id: int) -> None:
    """Tickets keep their history; the category is detached from them (ON DELETE SET NULL)."""
    require(actor, Permission.ADMIN_DIRECTORY)
    category = session.get(Category, category_id)
    if category is None:
        raise CategoryNotFound(f"Category {category_id} does not exist.")
    session.delete(category)
    session.flush()
