"""ticket numbers from a sequence per year, without a row lock held by the creating transaction

PostgreSQL only (SQLite has one writer anyway and keeps the upsert on `ticket_number_sequences`):
each year with a row gets its sequence, `ticket_numbers_<year>`, continuing after the row's last
value. Years without a row yet (a database seeded after migrating, a new year) get theirs from
their first ticket (`tickets.numbering`), which reads the row the same way. Downgrading writes
each sequence's last value back into the table and drops the sequences.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    rows = bind.exec_driver_sql("SELECT year, last_value FROM ticket_number_sequences ORDER BY year")
    for year, last_value in rows.all():
        name = f"ticket_numbers_{int(year):d}"
        bind.exec_driver_sql(
            f"CREATE SEQUENCE IF NOT EXISTS {name} OWNED BY ticket_number_sequences.last_value"
        )
        if last_value > 0:
            bind.exec_driver_sql(f"SELECT setval('{name}', {int(last_value):d})")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    rows = bind.exec_driver_sql(
        "SELECT sequencename, last_value FROM pg_sequences"
        " WHERE schemaname = current_schema() AND sequencename ~ '^ticket_numbers_[0-9]+$'"
    )
    for name, last_value in rows.all():
        if last_value is not None:
            year = int(name.rpartition("_")[2])
            bind.exec_driver_sql(
                "INSERT INTO ticket_number_sequences (year, last_value) VALUES (%(year)s, %(value)s)"
                " ON CONFLICT (year) DO UPDATE"
                " SET last_value = greatest(ticket_number_sequences.last_value, excluded.last_value)",
                {"year": year, "value": int(last_value)},
            )
        bind.exec_driver_sql(f"DROP SEQUENCE {name}")
