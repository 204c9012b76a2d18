"""The current filtered list as CSV (docs/product.md §3), streamed in constant memory.

The rows come from `search.filtered_tickets`, the same visibility-first select as the list, in
the list's order, read with a streaming cursor in chunks; each chunk's tags come in one more
query. Every cell a spreadsheet could take for a formula is defused (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select
from sqlalchemy.orm import Session

from ticketry.auth.actor import Actor, require
from ticketry.auth.permissions import Permission
from ticketry.core.db import Database
from ticketry.core.errors import ValidationFailed
from ticketry.search.rows import listed
from ticketry.search.service import TicketFilters, TicketSort, filtered_tickets, ticket_order
from ticketry.tickets.models import STATUS_LABELS

CHUNK = 1000
# A cell starting with one of these is a formula to Excel, LibreOffice or Google Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# The rows an export reads: many columns of several types.
ExportSelect = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class Column:
    label: str
    read: Callable[[Row[Any]], object]


def _stamp(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else ""


COLUMNS: dict[str, Column] = {
    "number": Column("Number", lambda r: r.number),
    "title": Column("Title", lambda r: r.title),
    "status": Column("Status", lambda r: STATUS_LABELS[r.status]),
    "priority": Column("Priority", lambda r: r.priority.value.capitalize()),
    "department": Column("Department", lambda r: r.department_name),
    "category": Column("Category", lambda r: r.category_name or ""),
    "customer": Column("Customer", lambda r: r.customer_name),
    "customer_email": Column("Customer e-mail", lambda r: r.customer_email),
    "assignee": Column("Assignee", lambda r: r.assignee_name or ""),
    "tags": Column("Tags", lambda r: ", ".join(name for _, name, _ in r.tags)),
    "source": Column("Source", lambda r: r.source.value),
    "created_at": Column("Created", lambda r: _stamp(r.created_at)),
    "updated_at": Column("Updated", lambda r: _stamp(r.updated_at)),
    "first_response_at": Column("First response", lambda r: _stamp(r.first_response_at)),
    "resolved_at": Column("Resolved", lambda r: _stamp(r.resolved_at)),
    "closed_at": Column("Closed", lambda r: _stamp(r.closed_at)),
}
DEFAULT_COLUMNS = (
    "number",
    "title",
    "status",
    "priority",
    "department",
    "customer",
    "assignee",
    "tags",
    "created_at",
    "updated_at",
)


def choose_columns(requested: Sequence[str]) -> list[str]:
    """The columns asked for (comma-separated or repeated), in that order; none means the defaults."""
    names = [part.strip() for value in requested for part in value.split(",") if part.strip()]
    unknown = sorted({name for name in names if name not in COLUMNS})
    if unknown:
        raise ValidationFailed(
            f"Unknown column {', '.join(unknown)}.", details={"field": "columns", "allowed": list(COLUMNS)}
        )
    return list(dict.fromkeys(names)) or list(DEFAULT_COLUMNS)


def safe_cell(value: object) -> str:
    """The value as text a spreadsheet shows as text: a leading formula character (also after
    leading spaces) gets an apostrophe in front, which the spreadsheet hides."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) or text.lstrip().startswith(FORMULA_STARTS):
        return "'" + text
    return text


def check_export(actor: Actor) -> None:
    """Before the first byte: refusals must be a proper 403, not a broken download."""
    require(actor, Permission.TICKETS_EXPORT)


def csv_stream(
    db: Database, actor: Actor, filters: TicketFilters, sort: TicketSort, columns: Sequence[str]
) -> Iterator[str]:
    """The CSV text: the header and the first chunk of rows, then one piece per further chunk.

    The query is built and run, and its first chunk read, before this returns: a filter the list
    refuses (an unknown department, a filter the actor may not use) is refused here with the
    list's 4xx, before the first byte, instead of breaking the download half-way through a 200
    (issue 12, item 9). The stream reads in a read transaction of its own (it outlives the
    request's unit of work), which also makes the file one consistent snapshot of the list."""
    check_export(actor)
    pieces = _csv_pieces(db, actor, filters, sort, columns)
    first = next(pieces)
    return itertools.chain((first,), pieces)


def _csv_pieces(
    db: Database, actor: Actor, filters: TicketFilters, sort: TicketSort, columns: Sequence[str]
) -> Iterator[str]:
    chosen = [COLUMNS[name] for name in columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def drain() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow([column.label for column in chosen])
    with db.unit_of_work(write=False) as session:
        for rows in session.execute(list_query(session, actor, filters, sort)).partitions():
            for row in rows:
                writer.writerow([safe_cell(column.read(row)) for column in chosen])
            yield drain()
    rest = drain()  # the header alone, when no ticket matched
    if rest:
        yield rest


def list_query(session: Session, actor: Actor, filters: TicketFilters, sort: TicketSort) -> ExportSelect:
    """The list's rows (`search.rows.listed`, the columns the lists show) in its order; refuses what
    the list refuses."""
    query = listed(filtered_tickets(session, actor, filters), staff=actor.is_staff)
    return query.order_by(*ticket_order(sort)).execution_options(yield_per=CHUNK)
