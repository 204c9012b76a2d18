"""The rows a ticket list reads: the columns it shows, labelled (`listed`), and those rows as
`ListedTicket`s (`listed_tickets`). The API's lists, the desk's, searches and exports read them
(`search.service`, `exports.tables`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Label, Row, Select, func, select
from sqlalchemy.orm import aliased

from ticketry.auth.actor import Actor
from ticketry.core.db import json_rows
from ticketry.tickets.choices import DepartmentRow, Named
from ticketry.tickets.models import Category, Priority, Source, Tag, Ticket, TicketStatus, ticket_tags
from ticketry.users.models import Department, User

# "Updated" as a customer's side knows it (`Ticket.customer_updated_at`, in SQL).
CUSTOMER_UPDATED = func.coalesce(Ticket.public_updated_at, Ticket.updated_at)


class Contact(NamedTuple):
    id: int
    name: str
    email: str


class TagRow(NamedTuple):
    id: int
    name: str
    color: str


class ListedTicket(NamedTuple):
    """A ticket as a list shows it (the API's `TicketListItem` and `TicketCustomerListItem`, the
    desk's rows), read as a row of `listed`. Loading `Ticket` objects with four joined relations
    cost about 1 ms more of Python a page of 25, most of it setting up the loaders.

    A customer's row holds nothing staff-only: its `updated_at` and `version` are the customer's
    side's (`tickets.changes`), it has no customer, assignee or tags."""

    id: int
    number: str
    title: str
    status: TicketStatus
    priority: Priority
    source: Source
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    first_response_at: datetime | None
    version: int
    customer_updated_at: datetime
    public_version: int
    department: DepartmentRow
    category: Named | None
    customer: Contact | None
    assignee: Named | None
    tags: list[TagRow]


_customer = aliased(User, name="customer")
_assignee = aliased(User, name="assignee")


def listed(query: Select[Any], *, staff: bool) -> Select[*tuple[Any, ...]]:
    """`query` (on Ticket) as the columns a list shows, labelled: the ticket's own, as the reader's
    side knows them, its department's and category's, and for staff its customer's and
    assignee's. The API's and the desk's lists read them (`find_tickets`), and so do exports."""
    columns = (
        Ticket.id,
        Ticket.number,
        Ticket.title,
        Ticket.status,
        Ticket.priority,
        Ticket.source,
        Ticket.created_at,
        (Ticket.updated_at if staff else CUSTOMER_UPDATED).label("updated_at"),
        Ticket.resolved_at,
        Ticket.closed_at,
        Ticket.first_response_at,
        (Ticket.version if staff else Ticket.public_version).label("version"),
        CUSTOMER_UPDATED.label("customer_updated_at"),
        Ticket.public_version,
        Department.id.label("department_id"),
        Department.slug.label("department_slug"),
        Department.name.label("department_name"),
        Category.id.label("category_id"),
        Category.name.label("category_name"),
    )
    shown = (
        query.with_only_columns(*columns)
        .join_from(Ticket, Department, Ticket.department_id == Department.id)
        .outerjoin(Category, Ticket.category_id == Category.id)
    )
    if not staff:
        return shown
    return (
        shown.add_columns(
            _customer.id.label("customer_id"),
            _customer.name.label("customer_name"),
            _customer.email.label("customer_email"),
            _assignee.id.label("assignee_id"),
            _assignee.name.label("assignee_name"),
            _tags(),
        )
        .join(_customer, Ticket.customer_id == _customer.id)
        .outerjoin(_assignee, Ticket.assignee_id == _assignee.id)
    )


@cache
def _tags() -> Label[list[list[Any]]]:
    """A listed ticket's tags, by name, as rows of [id, name, colour] in one column of its own
    row: a query of their own for a page's tickets cost an API list a fifth of its time
    (expanding its ids into the statement every time). Built once."""
    tags = (
        select(Tag.id, Tag.name, Tag.color)
        .join(ticket_tags, ticket_tags.c.tag_id == Tag.id)
        .where(ticket_tags.c.ticket_id == Ticket.id)
        .order_by(Tag.name)
        .correlate(Ticket)
        .subquery("ticket_tag")
    )
    named = json_rows(tags.c.id, tags.c.name, tags.c.color, order_by=tags.c.name)
    return select(named).scalar_subquery().label("tags")


def listed_tickets(actor: Actor, rows: Sequence[Row[Any]]) -> list[ListedTicket]:
    """Rows of `listed` as tickets."""
    return [
        ListedTicket(
            id=row.id,
            number=row.number,
            title=row.title,
            status=row.status,
            priority=row.priority,
            source=row.source,
            created_at=row.created_at,
            updated_at=row.updated_at,
            resolved_at=row.resolved_at,
            closed_at=row.closed_at,
            first_response_at=row.first_response_at,
            version=row.version,
            customer_updated_at=row.customer_updated_at,
            public_version=row.public_version,
            department=DepartmentRow(row.department_id, row.department_slug, row.department_name),
            category=None if row.category_id is None else Named(row.category_id, row.category_name),
            customer=Contact(row.customer_id, row.customer_name, row.customer_email)
            if actor.is_staff
            else None,
            assignee=Named(row.assignee_id, row.assignee_name)
            if actor.is_staff and row.assignee_id is not None
            else None,
            tags=[TagRow(*tag) for tag in row.tags] if actor.is_staff else [],
        )
        for row in rows
    ]
