"""What the desk's pages offer to choose from: the active departments and categories, the staff a
ticket can be assigned to, the tags' names. One statement for all four: each in a query of its own
(loading whole departments and categories) cost a desk page 1.4 ms of its 14 at 100,000 tickets."""

from __future__ import annotations

from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Select, literal, null, select, union_all
from sqlalchemy.orm import Session

from ticketry.tickets.models import Category, Tag
from ticketry.tickets.tags import MAX_PICKER
from ticketry.users.models import Department, User
from ticketry.users.service import active_staff


class Named(NamedTuple):
    id: int
    name: str


class DepartmentRow(NamedTuple):
    id: int
    slug: str
    name: str


class Choices(NamedTuple):
    departments: list[DepartmentRow]  # active ones, by name
    categories: list[Named]  # active ones, by name
    agents: list[Named]  # active agents and admins, by name (`users.service.active_staff`)
    tag_names: list[str]  # the first MAX_PICKER by name


_DEPARTMENTS, _CATEGORIES, _AGENTS, _TAGS = range(4)


def choices(session: Session, *, agents: bool = True) -> Choices:
    """The four lists, read in one snapshot; `agents=False` for a reader offered no agents."""
    rows = session.execute(_statement(agents)).all()
    found = Choices([], [], [], [])
    for row_kind, row_id, row_slug, row_name in rows:
        if row_kind == _DEPARTMENTS:
            found.departments.append(DepartmentRow(row_id, row_slug, row_name))
        elif row_kind == _CATEGORIES:
            found.categories.append(Named(row_id, row_name))
        elif row_kind == _AGENTS:
            found.agents.append(Named(row_id, row_name))
        else:
            found.tag_names.append(row_name)
    return found


@cache
def _statement(agents: bool) -> Select[*tuple[Any, ...]]:
    """Built once: the same for every page, and building it cost a third of reading it."""
    parts: list[Select[*tuple[Any, ...]]] = [
        select(
            literal(_DEPARTMENTS).label("kind"),
            Department.id.label("key"),
            Department.slug.label("slug"),
            Department.name.label("name"),
        ).where(Department.is_active.is_(True)),
        select(literal(_CATEGORIES), Category.id, null(), Category.name).where(Category.is_active.is_(True)),
    ]
    if agents:
        parts.append(active_staff(select(literal(_AGENTS), User.id, null(), User.name)))
    tags = select(Tag.name).order_by(Tag.name).limit(MAX_PICKER).subquery()
    parts.append(select(literal(_TAGS), null(), null(), tags.c.name))
    chosen = union_all(*parts).subquery()
    return select(chosen).order_by(chosen.c.kind, chosen.c.name)
