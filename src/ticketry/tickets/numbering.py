"""Human ticket numbers `PREFIX-YYYY-NNNN` from a per-year sequence (SPEC §2).

One upsert statement both creates the year's row and takes the next value, atomically on
PostgreSQL (row lock on conflict) and on SQLite (the write lock of BEGIN IMMEDIATE). A rolled-back
ticket leaves a gap, which is allowed; a duplicate is impossible (the number is also unique).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ticketry.tickets.models import TicketNumberSequence

_table: Table = TicketNumberSequence.__table__  # type: ignore[assignment]


def next_number(session: Session, *, prefix: str, at: datetime) -> str:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    upsert = insert(_table).values(year=at.year, last_value=1)
    statement = upsert.on_conflict_do_update(
        index_elements=[_table.c.year],
        set_={"last_value": _table.c.last_value + 1},
    ).returning(_table.c.last_value)
    value: int = session.execute(statement).scalar_one()
    return format_number(prefix, at.year, value)


def format_number(prefix: str, year: int, value: int) -> str:
    return f"{prefix}-{year}-{value:04d}"
