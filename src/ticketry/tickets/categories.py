"""Categories (docs/product.md §2): what a ticket is about, kept by admins (`admin:directory`). Tickets keep
their history when a category goes; putting one on a ticket is a ticket use case (`create`,
`service.update_ticket`)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.tickets.errors import CategoryNameTaken, CategoryNotFound
from ticketry.tickets.models import Category


def active_category(session: Session, category_id: int | None) -> Category | None:
    """The category a ticket is given (None for none); an unknown or retired one is a 404."""
    if category_id is None:
        return None
    category = session.get(Category, category_id)
    if category is None or not category.is_active:
        raise CategoryNotFound(f"Category {category_id} does not exist.", details={"categoryId": category_id})
    return category


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
