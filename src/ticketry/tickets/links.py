"""Links between tickets: related, duplicate, parent and child, shown on both sides (docs/product.md §3).

One row per pair (`TicketLink`): `source` is the parent of `target` for a parent link, the
duplicate of `target` for a duplicate link. A pair is linked at most once, whichever way round,
and parent links never form a cycle. Links are staff-only. Each side is shown only to who may
read the ticket on the other end: a link to a ticket one cannot see is not shown at all, and the
history records the other ticket by id only, never its number or title.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.core.errors import Conflict, NotFound, ValidationFailed
from ticketry.history.models import Change
from ticketry.tickets import changes as ticket_changes
from ticketry.tickets.access import access_ticket
from ticketry.tickets.errors import TicketNotFound
from ticketry.tickets.models import LinkKind, Ticket, TicketLink
from ticketry.tickets.repository import readable_tickets

# How deep a chain of parents is followed when looking for a cycle; real hierarchies are shallow.
MAX_DEPTH = 1000


class LinkNotFound(NotFound):
    code = "link_not_found"


class LinkExists(Conflict):
    code = "link_exists"


class LinkCycle(Conflict):
    code = "link_cycle"


class SelfLink(ValidationFailed):
    code = "self_link"


class LinkAs(enum.StrEnum):
    """What this ticket is to the other one, as a client asks for a link."""

    RELATED = "related"
    DUPLICATE = "duplicate"  # this ticket duplicates the other
    PARENT = "parent"  # this ticket is the other's parent
    CHILD = "child"  # this ticket is the other's child: a parent link the other way round


class Relation(enum.StrEnum):
    """A link as seen from one of its two tickets."""

    RELATED = "related"
    DUPLICATE_OF = "duplicate_of"
    DUPLICATED_BY = "duplicated_by"
    PARENT_OF = "parent_of"
    CHILD_OF = "child_of"


RELATION_LABELS = {
    Relation.RELATED: "related to",
    Relation.DUPLICATE_OF: "duplicate of",
    Relation.DUPLICATED_BY: "duplicated by",
    Relation.PARENT_OF: "parent of",
    Relation.CHILD_OF: "child of",
}


@dataclass(frozen=True)
class Linked:
    """One link from one ticket's side: the other ticket and what it is to this one."""

    link: TicketLink
    ticket: Ticket
    relation: Relation

    @property
    def label(self) -> str:
        return RELATION_LABELS[self.relation]


def relation_of(link: TicketLink, ticket_id: int) -> Relation:
    """What `ticket_id` is to the other ticket of the link."""
    if link.kind is LinkKind.RELATED:
        return Relation.RELATED
    mine = link.source_id == ticket_id
    if link.kind is LinkKind.DUPLICATE:
        return Relation.DUPLICATE_OF if mine else Relation.DUPLICATED_BY
    return Relation.PARENT_OF if mine else Relation.CHILD_OF


def list_links(session: Session, actor: Actor, ticket_id: int) -> list[Linked]:
    """Both directions, only to tickets the actor can read. Staff only."""
    access_ticket(session, actor, ticket_id, include_deleted=True)
    require(actor, Permission.TICKETS_VIEW_INTERNAL)
    touches = or_(
        and_(TicketLink.source_id == ticket_id, TicketLink.target_id == Ticket.id),
        and_(TicketLink.target_id == ticket_id, TicketLink.source_id == Ticket.id),
    )
    rows = session.execute(
        readable_tickets(actor, include_deleted=True)
        .join(TicketLink, touches)
        .add_columns(TicketLink)
        .order_by(TicketLink.id)
    ).all()
    return [Linked(link, other, relation_of(link, ticket_id)) for other, link in rows]


def find_ticket(session: Session, actor: Actor, ref: str) -> int:
    """The id of a ticket the actor can read, by its number (TICK-2026-0042) or its id."""
    ref = ref.strip().lstrip("#")
    query = readable_tickets(actor).with_only_columns(Ticket.id)
    if ref.isascii() and ref.isdigit() and len(ref) < 10:
        found = session.scalar(query.where(Ticket.id == int(ref)))
    else:
        found = session.scalar(query.where(Ticket.number.in_(sorted({ref, ref.upper()}))))
    if found is None:
        raise TicketNotFound("Ticket not found: check the number or id.", details={"ticket": ref[:40]})
    return found


def link(session: Session, actor: Actor, ticket_id: int, *, other_id: int, kind: LinkAs) -> Linked:
    """Link two readable tickets (404 for either one the actor cannot see)."""
    if other_id == ticket_id:
        access_ticket(session, actor, ticket_id, include_deleted=True)
        raise SelfLink("A ticket cannot be linked to itself.", details={"ticketId": other_id})
    ticket, other = _lock_pair(session, actor, ticket_id, other_id)
    require(actor, Permission.TICKETS_LINK)
    existing = session.scalars(select(TicketLink.id).where(_pair(ticket.id, other.id))).first()
    if existing is not None:
        raise LinkExists("These tickets are already linked.", details={"linkId": existing})
    source, target = (other, ticket) if kind is LinkAs.CHILD else (ticket, other)
    stored = LinkKind.PARENT if kind is LinkAs.CHILD else LinkKind(kind.value)
    if stored is LinkKind.PARENT and target.id in _ancestors(session, source.id):
        raise LinkCycle(
            "This would make a ticket its own ancestor: the other ticket is already above this one.",
            details={"ticketId": ticket.id, "otherId": other.id},
        )
    row = TicketLink(source_id=source.id, target_id=target.id, kind=stored, created_by_id=actor.user_id)
    session.add(row)
    session.flush()
    _record(session, actor, row, added=True)
    return Linked(row, other, relation_of(row, ticket.id))


def unlink(session: Session, actor: Actor, ticket_id: int, link_id: int) -> None:
    """Remove a link shown on this ticket (both sides lose it)."""
    access_ticket(session, actor, ticket_id, include_deleted=True)
    row = session.get(TicketLink, link_id)
    if row is None or ticket_id not in (row.source_id, row.target_id):
        raise LinkNotFound(f"Link {link_id} not found.", details={"linkId": link_id})
    other_id = row.target_id if row.source_id == ticket_id else row.source_id
    try:
        _lock_pair(session, actor, ticket_id, other_id)
    except NotFound as error:  # the other side is invisible: so is the link
        raise LinkNotFound(f"Link {link_id} not found.", details={"linkId": link_id}) from error
    require(actor, Permission.TICKETS_LINK)
    _record(session, actor, row, added=False)
    session.delete(row)
    session.flush()


def _pair(a: int, b: int) -> ColumnElement[bool]:
    return or_(
        and_(TicketLink.source_id == a, TicketLink.target_id == b),
        and_(TicketLink.source_id == b, TicketLink.target_id == a),
    )


def _lock_pair(session: Session, actor: Actor, ticket_id: int, other_id: int) -> tuple[Ticket, Ticket]:
    """Both tickets, locked in id order (two people linking a pair both ways wait for each other)."""
    locked = ticket_changes.begin_many(session, actor, (ticket_id, other_id))
    return locked[ticket_id], locked[other_id]


def _ancestors(session: Session, ticket_id: int) -> set[int]:
    """Every ticket above this one through parent links, whoever may see them."""
    found: set[int] = set()
    frontier = {ticket_id}
    for _ in range(MAX_DEPTH):
        parents = set(
            session.scalars(
                select(TicketLink.source_id).where(
                    TicketLink.kind == LinkKind.PARENT, TicketLink.target_id.in_(sorted(frontier))
                )
            )
        )
        frontier = parents - found
        if not frontier:
            break
        found |= frontier
    return found


def _record(session: Session, actor: Actor, row: TicketLink, *, added: bool) -> None:
    """History on both tickets (staff only), naming the other ticket by id only."""
    for this, that in ((row.source_id, row.target_id), (row.target_id, row.source_id)):
        text = f"{RELATION_LABELS[relation_of(row, this)]} ticket {that}"
        change = (
            Change("links", None, text, internal=True)
            if added
            else Change("links", text, None, internal=True)
        )
        ticket_changes.aside(session, actor, this, [change])
