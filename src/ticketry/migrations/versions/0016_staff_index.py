"""staff index: who a ticket can be assigned to, without reading every customer

Every desk page lists the active agents and admins by name (`users.list_staff`): with no index
on the role, that read every user row, customers included, and sorted the staff among them (0.4
ms at 10,000 customers on SQLite, and growing with them). On (role, name) it reads the staff
alone, already in order.

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_users_role_name", "users", ["role", "name"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_users_role_name", table_name="users")
