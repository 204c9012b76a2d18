"""Human ticket numbers `PREFIX-YYYY-NNNN` from a per-year sequence (docs/product.md §2).

PostgreSQL: one SEQUENCE per year (`ticket_numbers_2026`). `nextval` is outside transactions, so
concurrent creates never wait on each other; a rolled-back ticket leaves a gap (allowed), never a
duplicate (the number is also unique). A year's sequence is made by its first ticket, starting
after the year's row in `ticket_number_sequences` (numbers issued before the sequences, or loaded
by `bench/seed.py`). It is OWNED BY that table's `last_value` column: dropping the table drops it,
and `TRUNCATE … RESTART IDENTITY` starts numbering again at 1, as emptying the table always did.

SQLite has one writer at a time anyway: one upsert on the year's row takes the next value.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Table, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from ticketry.tickets.models import TicketNumberSequence

_table: Table = TicketNumberSequence.__table__  # type: ignore[assignment]


def next_number(session: Session, *, prefix: str, at: datetime) -> str:
    if session.get_bind().dialect.name == "postgresql":
        value = _next_from_sequence(session, at.year)
    else:
        upsert = sqlite.insert(_table).values(year=at.year, last_value=1)
        statement = upsert.on_conflict_do_update(
            index_elements=[_table.c.year],
            set_={"last_value": _table.c.last_value + 1},
        ).returning(_table.c.last_value)
        value = session.execute(statement).scalar_one()
    return format_number(prefix, at.year, value)


def sequence_name(year: int) -> str:
    return f"ticket_numbers_{year:d}"


def _next_from_sequence(session: Session, year: int) -> int:
    """One round trip once the year's sequence exists (NULL from `to_regclass` until then)."""
    name = sequence_name(year)
    value: int | None = session.execute(
        text("SELECT nextval(to_regclass(:name))"), {"name": name}
    ).scalar_one()
    if value is None:
        _create_sequence(session, year)
        value = session.execute(text("SELECT nextval(CAST(:name AS regclass))"), {"name": name}).scalar_one()
    assert value is not None
    return value


def _create_sequence(session: Session, year: int) -> None:
    """Create the year's sequence unless a concurrent first ticket of the year did. The table lock
    lasts until this transaction ends, so a second creator waits for the first one's commit (and
    then finds the sequence) or rollback (and then creates it itself: the rolled-back number was
    never used). Taking a table lock also makes PostgreSQL read the catalog changes committed
    meanwhile: a name lookup that failed earlier in this transaction would otherwise stay cached
    as failed."""
    session.execute(text("LOCK TABLE ticket_number_sequences IN SHARE UPDATE EXCLUSIVE MODE"))
    name = sequence_name(year)
    if session.execute(text("SELECT to_regclass(:name)"), {"name": name}).scalar_one() is not None:
        return
    session.execute(text(f"CREATE SEQUENCE {name} OWNED BY ticket_number_sequences.last_value"))
    session.execute(
        text(
            "SELECT setval(CAST(:name AS regclass), last_value)"
            " FROM ticket_number_sequences WHERE year = :year"
        ),
        {"name": name, "year": year},
    )


def format_number(prefix: str, year: int, value: int) -> str:
    return f"{prefix}-{year}-{value:04d}"
