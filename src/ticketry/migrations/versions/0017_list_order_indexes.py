"""list order indexes: the newest and the recently updated tickets in the lists' whole order

Every list orders by a time and then by id, so that tickets with the same time keep their
places from page to page. PostgreSQL keeps equal keys of an index in no particular order: from
an index on the time alone it sorted every ticket sharing the first time before it could return
a page (a bulk change gives hundreds of tickets one `updated_at`; the desk's first page then
read 2,700 rows instead of 70). With the id in the index the page is read in order. SQLite keeps
equal keys in rowid order already; the index is the same on both, for one schema. PostgreSQL
builds each index holding a lock on `tickets` (3 s at a million tickets on two cores).

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

ORDERS = ("created_at", "updated_at")


def upgrade() -> None:
    for column in ORDERS:
        op.drop_index(f"ix_tickets_{column}", table_name="tickets")
        op.create_index(f"ix_tickets_{column}", "tickets", [column, "id"], unique=False)
    # SQLite forgets a dropped index's statistics; its planner needs them back.
    op.execute("ANALYZE tickets")


def downgrade() -> None:
    for column in ORDERS:
        op.drop_index(f"ix_tickets_{column}", table_name="tickets")
        op.create_index(f"ix_tickets_{column}", "tickets", [column], unique=False)
