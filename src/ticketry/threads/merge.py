"""Merge duplicates into a primary ticket, and undo a merge exactly (docs/product.md §3, issue 6 part 6).

A merge moves every message of the secondary (with its files) to the primary, turns the
secondary's description into a message there, adds its tags and watchers, and closes the
secondary with a pointer (`merged_into_id`). Everything a merge changes is written down in
`TicketMerge.snapshot`, so `unmerge` puts both tickets back as they were: the messages written on
the primary after the merge stay there, and the synthetic description message goes away.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from ticketry.attachments.models import Attachment
from ticketry.auth import service as auth_service
from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.core.clock import now
from ticketry.core.errors import ValidationFailed
from ticketry.history.models import Change
from ticketry.messages.models import Message
from ticketry.threads.errors import (
    AlreadyMerged,
    AlreadyUnmerged,
    CustomersDiffer,
    MergeChain,
    MergeIntoSelf,
    MergeNotFound,
    MergeTargetClosed,
    MovedSinceMerge,
)
from ticketry.tickets import changes as ticket_changes
from ticketry.tickets import events as ticket_events
from ticketry.tickets import lifecycle
from ticketry.tickets.access import access_ticket
from ticketry.tickets.errors import TicketNotFound
from ticketry.tickets.models import Ticket, TicketMerge, TicketStatus, ticket_tags, ticket_watchers
from ticketry.tickets.repository import readable_tickets
from ticketry.users.models import User

MAX_SECONDARIES = 20
# The secondary's fields a merge changes and an unmerge restores.
RESTORED_FIELDS = ("status", "status_reason", "resolved_at", "closed_at", "first_response_at")


# --- reading ------------------------------------------------------------------------------------


def list_merges(session: Session, actor: Actor, ticket_id: int) -> list[TicketMerge]:
    """The merges this ticket took part in, as primary or secondary, newest first. Staff only."""
    access_ticket(session, actor, ticket_id, include_deleted=True)
    require(actor, Permission.TICKETS_MERGE)
    return list(
        session.scalars(
            select(TicketMerge)
            .where(or_(TicketMerge.primary_id == ticket_id, TicketMerge.secondary_id == ticket_id))
            .order_by(TicketMerge.id.desc())
        )
    )


def get_merge(session: Session, actor: Actor, merge_id: int) -> TicketMerge:
    """One merge, if the actor sees both of its tickets (else 404, like the tickets themselves)."""
    merge = session.get(TicketMerge, merge_id)
    if merge is None:
        raise MergeNotFound(f"Merge {merge_id} not found.", details={"mergeId": merge_id})
    for ticket_id in (merge.primary_id, merge.secondary_id):
        if session.scalar(_visible_id(actor, ticket_id)) is None:
            raise MergeNotFound(f"Merge {merge_id} not found.", details={"mergeId": merge_id})
    require(actor, Permission.TICKETS_MERGE)
    return merge


def merged_into(session: Session, actor: Actor, ticket: Ticket) -> Ticket | None:
    """The ticket a merged ticket now lives on, if this actor may read it (else None: a customer
    is only told that their request was closed as a duplicate)."""
    if ticket.merged_into_id is None:
        return None
    return session.scalars(readable_tickets(actor).where(Ticket.id == ticket.merged_into_id)).one_or_none()


def numbers(session: Session, ticket_ids: Sequence[int]) -> dict[int, str]:
    """Ticket numbers by id, for labels (the caller already knows the actor may see them)."""
    if not ticket_ids:
        return {}
    rows = session.execute(select(Ticket.id, Ticket.number).where(Ticket.id.in_(set(ticket_ids))))
    return {row.id: row.number for row in rows}


def resolve_references(session: Session, actor: Actor, text: str) -> list[int]:
    """Ticket ids from what an agent types: numbers (`TICK-2026-0042`), ids (`42`, `#42`), or
    several of them separated by commas or spaces. One the actor cannot see is a 404."""
    ids: list[int] = []
    for token in text.replace(",", " ").split()[: MAX_SECONDARIES + 1]:
        raw = token.strip().lstrip("#")
        if raw.isascii() and raw.isdigit() and len(raw) < 10:
            query = readable_tickets(actor).where(Ticket.id == int(raw))
        else:
            query = readable_tickets(actor).where(Ticket.number == raw.upper()[:32])
        found = session.scalars(query.with_only_columns(Ticket.id)).first()
        if found is None:
            raise TicketNotFound(
                f"No ticket {token[:40]} that you can see.", details={"reference": token[:40]}
            )
        ids.append(found)
    return ids


def moved_here(session: Session, actor: Actor, ticket_id: int) -> list[tuple[int, str, int]]:
    """Where this ticket's moved messages came from: (ticket id, number, how many), for staff."""
    rows = session.execute(
        select(Message.moved_from_ticket_id, func.count())
        .where(Message.ticket_id == ticket_id, Message.moved_from_ticket_id.is_not(None))
        .group_by(Message.moved_from_ticket_id)
    ).all()
    known = numbers(session, [row[0] for row in rows if row[0] is not None])
    return [(source, known[source], count) for source, count in rows if source in known]


def _visible_id(actor: Actor, ticket_id: int) -> Any:
    return (
        readable_tickets(actor, include_deleted=True)
        .with_only_columns(Ticket.id)
        .where(Ticket.id == ticket_id)
    )


# --- merging ------------------------------------------------------------------------------------


def merge_tickets(
    session: Session,
    actor: Actor,
    primary_id: int,
    secondary_ids: Sequence[int],
    *,
    confirm_different_customers: bool = False,
) -> list[TicketMerge]:
    """Merge each secondary into the primary. All or nothing: one refused ticket refuses all.

    Tickets of another customer merge only with `confirm_different_customers` (docs/product.md §3): after
    the merge each customer reads the other's messages and files, so it is never a side effect
    of typing a wrong number."""
    wanted = list(dict.fromkeys(secondary_ids))
    if not wanted:
        raise ValidationFailed("Choose at least one ticket to merge.", details={"field": "ticketIds"})
    if len(wanted) > MAX_SECONDARIES:
        raise ValidationFailed(
            f"Merge at most {MAX_SECONDARIES} tickets at once.", details={"field": "ticketIds"}
        )
    if primary_id in wanted:
        raise MergeIntoSelf("A ticket cannot be merged into itself.", details={"ticketId": primary_id})
    locked = ticket_changes.begin_many(session, actor, [primary_id, *wanted])
    require(actor, Permission.TICKETS_MERGE)
    primary = locked[primary_id]
    _check_primary(session, primary)
    secondaries = [locked[ticket_id] for ticket_id in wanted]
    for secondary in secondaries:
        _check_secondary(session, secondary, primary)
    strangers = [t for t in secondaries if t.customer_id != primary.customer_id]
    if strangers and not confirm_different_customers:
        names = ", ".join(t.number for t in strangers)
        raise CustomersDiffer(
            f"{names} belong{'s' if len(strangers) == 1 else ''} to another customer than {primary.number}. "
            "After the merge each customer sees the other's messages and files: confirm to merge anyway.",
            details={"ticketIds": [t.id for t in strangers], "numbers": [t.number for t in strangers]},
        )
    merges = [_merge_one(session, actor, primary, secondary) for secondary in secondaries]
    _settle(session)
    return merges


def _check_primary(session: Session, primary: Ticket) -> None:
    if primary.merged_into_id is not None:
        target = numbers(session, [primary.merged_into_id]).get(primary.merged_into_id, "another ticket")
        raise MergeChain(
            f"{primary.number} is itself merged into {target}: merge into {target} instead.",
            details={"ticketId": primary.id, "mergedIntoId": primary.merged_into_id},
        )
    if primary.status is TicketStatus.CLOSED:
        raise MergeTargetClosed(
            f"{primary.number} is closed. Reopen it before merging tickets into it.",
            details={"ticketId": primary.id},
        )


def _check_secondary(session: Session, secondary: Ticket, primary: Ticket) -> None:
    if secondary.merged_into_id is not None:
        target = numbers(session, [secondary.merged_into_id]).get(secondary.merged_into_id, "another ticket")
        raise AlreadyMerged(
            f"{secondary.number} is already merged into {target}.",
            details={"ticketId": secondary.id, "mergedIntoId": secondary.merged_into_id},
        )
    merged_in = session.scalar(
        select(Ticket.number).where(Ticket.merged_into_id == secondary.id).order_by(Ticket.id).limit(1)
    )
    if merged_in is not None:
        raise MergeChain(
            f"{merged_in} is merged into {secondary.number}, so {secondary.number} cannot be merged "
            f"in turn. Merge {primary.number} into {secondary.number}, or unmerge {merged_in} first.",
            details={"ticketId": secondary.id},
        )


def _merge_one(session: Session, actor: Actor, primary: Ticket, secondary: Ticket) -> TicketMerge:
    stamp = now()
    messages = list(
        session.scalars(select(Message).where(Message.ticket_id == secondary.id).order_by(Message.id))
    )
    message_ids = [m.id for m in messages]
    attachment_ids = (
        list(session.scalars(select(Attachment.id).where(Attachment.message_id.in_(message_ids))))
        if message_ids
        else []
    )
    description_files = list(
        session.scalars(
            select(Attachment.id).where(Attachment.ticket_id == secondary.id, Attachment.message_id.is_(None))
        )
    )
    snapshot: dict[str, Any] = {
        "secondary": {name: _dump(getattr(secondary, name)) for name in RESTORED_FIELDS},
        "primary_number": primary.number,
        "secondary_number": secondary.number,
        "moved_messages": {str(m.id): m.moved_from_ticket_id for m in messages},
        "moved_attachment_ids": attachment_ids,
        "description_attachment_ids": description_files,
    }
    # The secondary's description becomes the primary's message, written by its customer.
    heading = f"Merged from {secondary.number}: {secondary.title}"
    description = Message(
        ticket_id=primary.id,
        author_id=secondary.customer_id,
        body=f"{heading}\n\n{secondary.description}",
        body_html=f"<p><strong>{html.escape(heading)}</strong></p>{secondary.description_html}",
        is_internal=False,
        is_staff_reply=False,
        source=secondary.source,
        mail_text=secondary.mail_text,
        mail_html=secondary.mail_html,
        created_at=secondary.created_at,
        moved_from_ticket_id=secondary.id,
    )
    session.add(description)
    session.flush()
    snapshot["description_message_id"] = description.id
    if message_ids:
        session.execute(
            update(Message)
            .where(Message.id.in_(message_ids))
            .values(ticket_id=primary.id, moved_from_ticket_id=secondary.id)
            .execution_options(synchronize_session=False)
        )
    if attachment_ids:
        session.execute(
            update(Attachment)
            .where(Attachment.id.in_(attachment_ids))
            .values(ticket_id=primary.id)
            .execution_options(synchronize_session=False)
        )
    if description_files:
        session.execute(
            update(Attachment)
            .where(Attachment.id.in_(description_files))
            .values(ticket_id=primary.id, message_id=description.id)
            .execution_options(synchronize_session=False)
        )
    snapshot["added_tag_ids"] = _copy_links(session, ticket_tags, "tag_id", secondary.id, primary.id)
    snapshot["added_watcher_ids"] = _copy_links(
        session,
        ticket_watchers,
        "user_id",
        secondary.id,
        primary.id,
        keep=lambda user_id: _reads_without_watching(session, user_id, primary),
    )

    changes = [
        Change("merged_into", None, primary.number, internal=True),
        *lifecycle.on_merged(secondary, stamp),
    ]
    secondary.status_reason = f"Merged into {primary.number}"
    secondary.merged_into_id = primary.id
    merge = TicketMerge(
        primary_id=primary.id,
        secondary_id=secondary.id,
        snapshot=snapshot,
        merged_at=stamp,
        merged_by_id=actor.user_id,
    )
    session.add(merge)
    # Both tickets change for their customers too: messages come or go, the duplicate closes.
    ticket_changes.finish(
        session, actor, secondary, changes, reason=f"Merged into {primary.number}", stamp=stamp, public=True
    )
    merged = ticket_events.MERGED(
        {
            "ticket_id": primary.id,
            "secondary_id": secondary.id,
            "merge_id": merge.id,
            "actor_id": actor.user_id,
        }
    )
    ticket_changes.finish(
        session,
        actor,
        primary,
        [Change("merged_from", None, secondary.number, internal=True)],
        reason=f"The description and {len(message_ids)} message(s) moved here from {secondary.number}",
        stamp=stamp,
        public=True,
        event=merged,
    )
    return merge


def _copy_links(
    session: Session,
    table: Any,
    column: str,
    source_id: int,
    target_id: int,
    *,
    keep: Callable[[int], bool] = lambda _: True,
) -> list[int]:
    """Add the source ticket's tags (or watchers) the target lacks; the ids added, for unmerge."""
    ours = set(session.scalars(select(table.c[column]).where(table.c.ticket_id == target_id)))
    theirs = list(session.scalars(select(table.c[column]).where(table.c.ticket_id == source_id)))
    added = sorted(value for value in set(theirs) - ours if keep(value))
    if added:
        session.execute(insert(table), [{"ticket_id": target_id, column: value} for value in added])
    return added


def _reads_without_watching(session: Session, user_id: int, ticket: Ticket) -> bool:
    """Watching a ticket lets an agent see it: a watcher of the duplicate follows the primary only
    if they could read it anyway, or a merge would open another department's ticket to them."""
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        return False
    reader = auth_service.actor_for(session, user)
    return (
        reader.can(Permission.TICKETS_VIEW_ALL)
        or ticket.department_id in reader.department_ids
        or ticket.assignee_id == user_id
    )


# --- unmerging ----------------------------------------------------------------------------------


def active_merge_of(session: Session, actor: Actor, secondary_id: int) -> TicketMerge:
    """The merge that closed this ticket (for "unmerge" from the secondary's page)."""
    access_ticket(session, actor, secondary_id, include_deleted=True)
    merge_id = session.scalar(
        select(TicketMerge.id)
        .where(TicketMerge.secondary_id == secondary_id, TicketMerge.unmerged_at.is_(None))
        .order_by(TicketMerge.id.desc())
        .limit(1)
    )
    if merge_id is None:
        raise MergeNotFound("This ticket is not merged into another.", details={"ticketId": secondary_id})
    return get_merge(session, actor, merge_id)


def unmerge(session: Session, actor: Actor, merge_id: int) -> TicketMerge:
    """Put both tickets back as they were before the merge. Messages written on the primary since
    stay there. Refused if the merge is undone already or something it moved has moved again."""
    merge = get_merge(session, actor, merge_id)
    if merge.unmerged_at is not None:
        raise AlreadyUnmerged("This merge has already been undone.", details={"mergeId": merge.id})
    locked = ticket_changes.begin_many(session, actor, (merge.primary_id, merge.secondary_id))
    primary, secondary = locked[merge.primary_id], locked[merge.secondary_id]
    if secondary.merged_into_id != primary.id:
        raise MovedSinceMerge(
            f"{secondary.number} no longer points at {primary.number}.", details={"mergeId": merge.id}
        )
    snapshot = merge.snapshot
    moved: dict[int, int | None] = {int(key): value for key, value in snapshot["moved_messages"].items()}
    description_id: int = snapshot["description_message_id"]
    _check_still_there(session, primary, secondary, moved, snapshot, description_id)
    stamp = now()
    for message_id, previous in moved.items():
        session.execute(
            update(Message)
            .where(Message.id == message_id)
            .values(ticket_id=secondary.id, moved_from_ticket_id=previous)
            .execution_options(synchronize_session=False)
        )
    if snapshot["moved_attachment_ids"]:
        session.execute(
            update(Attachment)
            .where(Attachment.id.in_(snapshot["moved_attachment_ids"]))
            .values(ticket_id=secondary.id)
            .execution_options(synchronize_session=False)
        )
    if snapshot["description_attachment_ids"]:
        session.execute(
            update(Attachment)
            .where(Attachment.id.in_(snapshot["description_attachment_ids"]))
            .values(ticket_id=secondary.id, message_id=None)
            .execution_options(synchronize_session=False)
        )
    # The description message was made by the merge; it goes with it (its revisions cascade).
    # Only from the primary: `_check_still_there` refused if it had moved (a split) since.
    session.execute(delete(Message).where(Message.id == description_id, Message.ticket_id == primary.id))
    _remove_links(session, ticket_tags, "tag_id", primary.id, snapshot["added_tag_ids"])
    _remove_links(session, ticket_watchers, "user_id", primary.id, snapshot["added_watcher_ids"])
    before = snapshot["secondary"]
    restored = lifecycle.on_unmerged(
        secondary,
        TicketStatus(before["status"]),
        resolved_at=_load(before["resolved_at"]),
        closed_at=_load(before["closed_at"]),
    )
    secondary.status_reason = before["status_reason"]
    secondary.first_response_at = _load(before["first_response_at"])
    secondary.merged_into_id = None
    merge.unmerged_at = stamp
    merge.unmerged_by_id = actor.user_id
    ticket_changes.finish(
        session,
        actor,
        secondary,
        [Change("merged_into", primary.number, None, internal=True), *restored],
        reason=f"Unmerged from {primary.number}",
        stamp=stamp,
        public=True,
    )
    ticket_changes.finish(
        session,
        actor,
        primary,
        [Change("merged_from", secondary.number, None, internal=True)],
        reason=f"{len(moved)} message(s) moved back to {secondary.number}",
        stamp=stamp,
        public=True,
    )
    _settle(session)
    return merge


def _check_still_there(
    session: Session,
    primary: Ticket,
    secondary: Ticket,
    moved: dict[int, int | None],
    snapshot: dict[str, Any],
    description_id: int,
) -> None:
    description_elsewhere = session.scalar(
        select(Message.id).where(
            Message.id == description_id,
            or_(Message.ticket_id != primary.id, Message.moved_from_ticket_id != secondary.id),
        )
    )
    if description_elsewhere is not None:
        raise MovedSinceMerge(
            f"The description merged from {secondary.number} has since moved to another ticket (split), "
            "so this merge can no longer be undone exactly.",
            details={"messageId": description_elsewhere},
        )
    if moved:
        elsewhere = session.scalar(
            select(Message.id)
            .where(
                Message.id.in_(list(moved)),
                or_(Message.ticket_id != primary.id, Message.moved_from_ticket_id != secondary.id),
            )
            .limit(1)
        )
        gone = len(moved) - len(list(session.scalars(select(Message.id).where(Message.id.in_(list(moved))))))
        if elsewhere is not None or gone:
            raise MovedSinceMerge(
                f"A message merged from {secondary.number} has since moved again (split or merged "
                "into another ticket), so this merge can no longer be undone exactly.",
                details={"messageId": elsewhere},
            )
    files = [*snapshot["moved_attachment_ids"], *snapshot["description_attachment_ids"]]
    if files:
        misplaced = session.scalar(
            select(Attachment.id).where(Attachment.id.in_(files), Attachment.ticket_id != primary.id).limit(1)
        )
        if misplaced is not None:
            raise MovedSinceMerge(
                "A file merged with the ticket has moved since, so this merge can no longer be undone.",
                details={"attachmentId": misplaced},
            )


def _remove_links(session: Session, table: Any, column: str, ticket_id: int, values: list[int]) -> None:
    if values:
        session.execute(delete(table).where(table.c.ticket_id == ticket_id, table.c[column].in_(values)))


# --- helpers ------------------------------------------------------------------------------------


def _settle(session: Session) -> None:
    """Rows were moved by bulk statements: forget what the session holds, so later reads see them."""
    session.flush()
    session.expire_all()


def _dump(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, TicketStatus):
        return value.value
    return value


def _load(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None
