"""Ticket use cases: the only code that changes tickets (docs/product.md §2, §3).

Each use case checks access and permission, changes the ticket, records history and enqueues
its side effects, all in the caller's transaction (through `tickets.changes`); it only ever
flushes. Opening a ticket (`create`) and keeping categories (`categories`) live in their own
modules and are importable from here as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from ticketry.attachments import service as attachments
from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.core.clock import now
from ticketry.core.errors import DomainError, PermissionDenied
from ticketry.core.text import render_markdown
from ticketry.history import service as history
from ticketry.history.models import Change, TicketEvent
from ticketry.jobs.events import Event
from ticketry.tickets import categories, create, lifecycle
from ticketry.tickets import changes as ticket_changes
from ticketry.tickets import events as ticket_events
from ticketry.tickets import tags as tag_service
from ticketry.tickets.access import access_ticket
from ticketry.tickets.errors import EditNotAllowed, InvalidTicketField, NotDeleted, TicketClosed
from ticketry.tickets.models import Priority, Ticket, TicketStatus
from ticketry.users import service as users
from ticketry.users.models import User

# Many-to-one relations join into the ticket query itself.
_TICKET_JOINS = (
    joinedload(Ticket.department, innerjoin=True),
    joinedload(Ticket.category),
    joinedload(Ticket.customer, innerjoin=True),
    joinedload(Ticket.assignee),
)
# Relationships every ticket view needs, loaded in one go; only tags need a second query.
TICKET_LOAD = (*_TICKET_JOINS, selectinload(Ticket.tags))
# One ticket on its own page or in an API answer also shows the description's files.
# ... and, to staff, who watches it.
TICKET_DETAIL_LOAD = (*TICKET_LOAD, selectinload(Ticket.attachments), selectinload(Ticket.watchers))
# Customers are shown neither tags nor watchers (`TicketCustomerView`): two queries fewer.
CUSTOMER_DETAIL_LOAD = (*_TICKET_JOINS, selectinload(Ticket.attachments))
STAFF_FIELDS = frozenset({"priority", "department", "category_id", "tags", "customer_id"})
CUSTOMER_EDITABLE = frozenset({"title", "description"})

# Opening a ticket and keeping categories have modules of their own; callers reach them here too.
create_ticket = create.create_ticket
MailBody = create.MailBody
list_categories = categories.list_categories
manage_categories = categories.manage_categories
create_category = categories.create_category
update_category = categories.update_category
delete_category = categories.delete_category


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


def _access_live(
    session: Session, actor: Actor, ticket_id: int, *, expected_version: int | None = None
) -> Ticket:
    """Lock a ticket to change it, with what its views show (`tickets.changes.begin`)."""
    return ticket_changes.begin(
        session, actor, ticket_id, expected_version=expected_version, options=TICKET_LOAD
    )


def _ensure_requester(actor: Actor, ticket: Ticket, action: str) -> None:
    """Customers act only on tickets they filed (colleagues in a shared organization only read)."""
    if not actor.is_staff and ticket.customer_id != actor.user_id:
        raise PermissionDenied(f"Only the person who opened this ticket can {action} it.")


def _name(user: User | None) -> str | None:
    return user.name if user is not None else None


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
    ticket = _access_live(session, actor, ticket_id, expected_version=expected_version)
    if actor.is_staff:
        require(actor, Permission.TICKETS_UPDATE)
    else:
        _ensure_customer_may_edit(actor, ticket, edit.provided)
    # One edit is one new version: the lookups below must not autoflush the fields set before them.
    with session.no_autoflush:
        changes = _apply_edit(session, actor, ticket, edit)
    if changes:
        updated = ticket_events.UPDATED(
            {"ticket_id": ticket.id, "fields": [c.field for c in changes], "actor_id": actor.user_id}
        )
        ticket_changes.finish(session, actor, ticket, changes, event=updated)
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
        department = create.department_of(session, edit.department)
        if department.id != ticket.department_id:
            changes.append(Change("department", ticket.department.name, department.name))
            ticket.department = department
    if "category_id" in edit.provided:
        category = categories.active_category(session, edit.category_id)
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
    """Put one tag on a ticket, creating it if the actor may create tags (docs/product.md §3)."""
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
    """docs/product.md §1: title/description of an own ticket while it is open and has no staff reply."""
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
    ticket = _access_live(session, actor, ticket_id, expected_version=expected_version)
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
    changed = ticket_events.STATUS_CHANGED(
        {"ticket_id": ticket.id, "status": status.value, "actor_id": actor.user_id}
    )
    ticket_changes.finish(session, actor, ticket, changes, reason=reason, event=changed)
    return ticket


def _ensure_customer_may_set(actor: Actor, ticket: Ticket, status: TicketStatus) -> None:
    """Customers close their own tickets and reopen them; nothing else (docs/product.md §1)."""
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
    """Assign; an open ticket moves to in_progress (docs/product.md §2). Agents may only take unassigned
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
    return _set_assignee(session, actor, ticket, assignee, reason=None, event=ticket_events.ASSIGNED)


def unassign_ticket(session: Session, actor: Actor, ticket_id: int) -> Ticket:
    """Unassign; an in_progress ticket goes back to open. Admins, or the assignee themself."""
    ticket = _access_live(session, actor, ticket_id)
    if not actor.can(Permission.TICKETS_ASSIGN):
        require(actor, Permission.TICKETS_UPDATE)
        if ticket.assignee_id != actor.user_id:
            raise PermissionDenied("Only an admin or the current assignee can unassign this ticket.")
    if ticket.assignee_id is None:
        return ticket
    return _set_assignee(session, actor, ticket, None, reason=None, event=ticket_events.UNASSIGNED)


def transfer_ticket(
    session: Session, actor: Actor, ticket_id: int, *, to_agent_id: int, note: str | None = None
) -> Ticket:
    """The assignee hands the ticket to another agent, with a note kept in history (docs/product.md §3)."""
    ticket = _access_live(session, actor, ticket_id)
    require(actor, Permission.TICKETS_TRANSFER)
    if ticket.assignee_id != actor.user_id and not actor.can(Permission.TICKETS_ASSIGN):
        raise PermissionDenied("Only the current assignee (or an admin) can transfer this ticket.")
    target = users.get_agent(session, to_agent_id)
    if target.id == ticket.assignee_id:
        raise InvalidTicketField(
            "The ticket is already assigned to this agent.", details={"toAgentId": target.id}
        )
    return _set_assignee(session, actor, ticket, target, reason=note, event=ticket_events.TRANSFERRED)


def _set_assignee(
    session: Session,
    actor: Actor,
    ticket: Ticket,
    assignee: User | None,
    *,
    reason: str | None,
    event: Event[ticket_events.AssigneeChanged],
) -> Ticket:
    stamp = now()
    changes = [Change("assignee", _name(ticket.assignee), _name(assignee), internal=True)]
    previous = ticket.assignee_id
    ticket.assignee = assignee
    changes += lifecycle.on_assign(ticket, stamp) if assignee else lifecycle.on_unassign(ticket, stamp)
    payload: ticket_events.AssigneeChanged = {
        "ticket_id": ticket.id,
        "assignee_id": assignee.id if assignee else None,
        "previous_assignee_id": previous,
        "actor_id": actor.user_id,
    }
    ticket_changes.finish(session, actor, ticket, changes, reason=reason, stamp=stamp, event=event(payload))
    return ticket


# --- deletion -----------------------------------------------------------------------------------


def delete_ticket(session: Session, actor: Actor, ticket_id: int) -> Ticket:
    """Soft delete. Visibility is checked before the permission, so a ticket the actor cannot
    see answers 404 like every other action on it (docs/product.md §1: do not reveal existence)."""
    ticket = _access_live(session, actor, ticket_id)
    require(actor, Permission.TICKETS_DELETE)
    ticket.deleted_at = now()
    ticket.deleted_by_id = actor.user_id
    attachments.soft_delete(session, ticket_id=ticket.id, at=ticket.deleted_at)
    ticket_changes.finish(session, actor, ticket, [Change("deleted", None, "yes", internal=True)])
    return ticket


def restore_ticket(session: Session, actor: Actor, ticket_id: int) -> Ticket:
    """Deleted tickets exist only for those who may restore them; to anyone else they are 404."""
    ticket = ticket_changes.begin(session, actor, ticket_id, allow_deleted=True, options=TICKET_LOAD)
    require(actor, Permission.TICKETS_DELETE)
    if ticket.deleted_at is None:
        raise NotDeleted("This ticket is not deleted.")
    attachments.restore(session, ticket_id=ticket.id, deleted_at=ticket.deleted_at)
    ticket.deleted_at = None
    ticket.deleted_by_id = None
    ticket_changes.finish(session, actor, ticket, [Change("deleted", "yes", None, internal=True)])
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
