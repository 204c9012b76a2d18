"""stats indexes: live-ticket counts from the index alone, first-response window

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

LIVE = sa.text("deleted_at IS NULL")


def upgrade() -> None:
    # Replaced by ix_tickets_live_counts, which also covers the visibility columns.
    op.drop_index("ix_tickets_counts", table_name="tickets")
    op.create_index(
        "ix_tickets_live_counts",
        "tickets",
        ["status", "priority", "department_id", "assignee_id"],
        unique=False,
        postgresql_include=["id"],
        postgresql_where=LIVE,
        sqlite_where=LIVE,
    )
    op.create_index("ix_tickets_first_response_at", "tickets", ["first_response_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_tickets_first_response_at", table_name="tickets")
    op.drop_index("ix_tickets_live_counts", table_name="tickets")
    op.create_index("ix_tickets_counts", "tickets", ["status", "priority", "department_id"], unique=False)
