"""Tags (docs/product.md §3): name and colour, counted, renamed, merged, deleted. Putting them on tickets
is a ticket use case (`tickets.service.add_tag` / `remove_tag`, and the `tags` field of an edit).

Tags are staff-only fields (docs/product.md §1): customers never read or set them. Admins (`admin:tags`)
manage the list; agents put existing tags on tickets and, while the site setting
`agents_create_tags` is on (the default), create new ones by typing them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete, func, insert, literal, select
from sqlalchemy.orm import Session

from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from ticketry.sitesettings import service as site_settings
from ticketry.tickets.models import Tag, Ticket, ticket_tags
from ticketry.tickets.repository import readable_tickets

MAX_NAME = 50
COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
DEFAULT_COLOR = "#6b7280"
SUGGESTIONS = 20
MAX_PICKER = 1000


class TagNotFound(NotFound):
    code = "tag_not_found"


class TagNameTaken(Conflict):
    code = "tag_name_taken"


class TagNotAllowed(ValidationFailed):
    code = "tag_not_allowed"


@dataclass(frozen=True)
class TagCount:
    tag: Tag
    # Live tickets with the tag that the actor may see.
    count: int


def clean_name(name: str) -> str:
    """How a tag is stored: trimmed, single-spaced, lower case, 1 to 50 characters."""
    cleaned = " ".join(name.split()).lower()
    if not 1 <= len(cleaned) <= MAX_NAME:
        raise ValidationFailed(f"A tag is 1 to {MAX_NAME} characters.", details={"field": "name"})
    return cleaned


def _color(value: str | None) -> str:
    if value is None:
        return DEFAULT_COLOR
    if not COLOR.fullmatch(value):
        raise ValidationFailed("A colour is written #rrggbb, e.g. #2563eb.", details={"field": "color"})
    return value.lower()


def _staff(actor: Actor) -> None:
    if not actor.is_staff:
        raise PermissionDenied("Tags are for the support team.")


def may_create(session: Session, actor: Actor) -> bool:
    return actor.can(Permission.ADMIN_TAGS) or (
        actor.is_staff and site_settings.current(session).agents_create_tags
    )


def resolve(session: Session, actor: Actor, names: list[str]) -> list[Tag]:
    """The tags of these names, creating the missing ones if the actor may (else 422)."""
    wanted = sorted({clean_name(name) for name in names if name.strip()})
    if not wanted:
        return []
    existing = {t.name: t for t in session.scalars(select(Tag).where(Tag.name.in_(wanted)))}
    missing = [name for name in wanted if name not in existing]
    if missing and not may_create(session, actor):
        raise TagNotAllowed(
            f"There is no tag {', '.join(repr(n) for n in missing)}, and only admins create new tags."
            " Choose an existing one.",
            details={"missing": missing},
        )
    created = [Tag(name=name, color=DEFAULT_COLOR, created_by_id=actor.user_id) for name in missing]
    session.add_all(created)  # flushed with the ticket they go on (one edit, one version)
    return sorted([*existing.values(), *created], key=lambda t: t.name)


# --- reading ------------------------------------------------------------------------------------


def list_tags(
    session: Session, actor: Actor, *, q: str | None = None, sort: Literal["name", "count"] = "name"
) -> list[TagCount]:
    """Every tag with the number of live tickets the actor can see that carry it (one query)."""
    _staff(actor)
    visible = readable_tickets(actor).with_only_columns(Ticket.id).scalar_subquery()
    counts = (
        select(ticket_tags.c.tag_id, func.count().label("n"))
        .where(ticket_tags.c.ticket_id.in_(visible))
        .group_by(ticket_tags.c.tag_id)
        .subquery()
    )
    query = select(Tag, func.coalesce(counts.c.n, 0)).outerjoin(counts, counts.c.tag_id == Tag.id)
    if q and q.strip():
        query = query.where(Tag.name.startswith(clean_name(q), autoescape=True)).limit(SUGGESTIONS)
    order = (func.coalesce(counts.c.n, 0).desc(), Tag.name) if sort == "count" else (Tag.name,)
    return [TagCount(tag, int(n)) for tag, n in session.execute(query.order_by(*order))]


def manage_tags(session: Session, actor: Actor, *, sort: Literal["name", "count"] = "name") -> list[TagCount]:
    """The admin page: every tag with its count."""
    require(actor, Permission.ADMIN_TAGS)
    return list_tags(session, actor, sort=sort)


def all_tags(session: Session) -> list[Tag]:
    """Every tag by name (no counts: cheap on any desk)."""
    return list(session.scalars(select(Tag).order_by(Tag.name).limit(MAX_PICKER)))


def get_tag(session: Session, actor: Actor, tag_id: int) -> Tag:
    _staff(actor)
    tag = session.get(Tag, tag_id)
    if tag is None:
        raise TagNotFound(f"Tag {tag_id} does not exist.", details={"tagId": tag_id})
    return tag


# --- managing (admins; agents may create while the setting allows) ------------------------------


def create_tag(session: Session, actor: Actor, *, name: str, color: str | None = None) -> Tag:
    _staff(actor)
    if not may_create(session, actor):
        raise PermissionDenied("Only admins create tags here.", details={"permission": "admin:tags"})
    cleaned = clean_name(name)
    if session.scalar(select(Tag.id).where(Tag.name == cleaned)) is not None:
        raise TagNameTaken(f"The tag '{cleaned}' exists.", details={"name": cleaned})
    tag = Tag(name=cleaned, color=_color(color), created_by_id=actor.user_id)
    session.add(tag)
    session.flush()
    return tag


def update_tag(
    session: Session, actor: Actor, tag_id: int, *, name: str | None = None, color: str | None = None
) -> Tag:
    require(actor, Permission.ADMIN_TAGS)
    tag = get_tag(session, actor, tag_id)
    if name is not None:
        cleaned = clean_name(name)
        other = session.scalar(select(Tag.id).where(Tag.name == cleaned, Tag.id != tag.id))
        if other is not None:
            raise TagNameTaken(
                f"The tag '{cleaned}' exists. To combine the two, merge this tag into it.",
                details={"name": cleaned, "tagId": other},
            )
        tag.name = cleaned
    if color is not None:
        tag.color = _color(color)
    session.flush()
    return tag


def merge_tag(session: Session, actor: Actor, tag_id: int, *, into_id: int) -> Tag:
    """Every ticket with the tag gets `into` instead; the tag is then deleted."""
    require(actor, Permission.ADMIN_TAGS)
    source = get_tag(session, actor, tag_id)
    target = get_tag(session, actor, into_id)
    if source.id == target.id:
        raise ValidationFailed("A tag cannot be merged into itself.", details={"intoId": into_id})
    already = select(ticket_tags.c.ticket_id).where(ticket_tags.c.tag_id == target.id)
    session.execute(
        insert(ticket_tags).from_select(
            ["ticket_id", "tag_id"],
            select(ticket_tags.c.ticket_id, literal(target.id))
            .where(ticket_tags.c.tag_id == source.id)
            .where(ticket_tags.c.ticket_id.not_in(already)),
        )
    )
    session.execute(delete(ticket_tags).where(ticket_tags.c.tag_id == source.id))
    session.delete(source)
    session.flush()
    return target


def delete_tag(session: Session, actor: Actor, tag_id: int) -> None:
    """The tag goes from every ticket (their history keeps it)."""
    require(actor, Permission.ADMIN_TAGS)
    tag = get_tag(session, actor, tag_id)
    session.execute(delete(ticket_tags).where(ticket_tags.c.tag_id == tag.id))
    session.delete(tag)
    session.flush()
