"""mail problems: what the parser cut, ignored or guessed, kept in the mail log; no user without
an address

Issue 14 A.8: `mail_log.problems`, the parser's notes on each inbound mail.

Issue 14 A.1: an admin's "process again" on a mail rejected for having no sender made a customer
with an empty address, and every later such mail joined that customer, whoever wrote it. The
address is unique, so a database holds at most one such user. It is repaired here rather than
left blank: from now on every user has a valid address (`users.check_email`), and a blank row
would be the one exception every reader of `users.email` has to remember (the admin's user form
cannot even save it). It gets an address under `.invalid` (RFC 6761: never delivered, never
anyone's), so it can never be confused with a real sender again; it is disabled, so a mail
claiming that address is refused, not posted as that customer; and it is marked undeliverable,
so nothing is sent to it. Its tickets stay as they are, for an agent to sort out: the mails
that made them are in the mail log.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

REPAIR_REASON = (
    "Made from a mail that named no sender (issue 14): no address is known. Disabled until an "
    "admin gives it a real one."
)


def upgrade() -> None:
    with op.batch_alter_table("mail_log") as batch:
        batch.add_column(sa.Column("problems", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
    _repair_blank_addresses()


def _repair_blank_addresses() -> None:
    bind = op.get_bind()
    stamp = datetime.now(UTC)
    if bind.dialect.name == "sqlite":
        stamp = stamp.replace(tzinfo=None)  # as `core.db.UTCDateTime` stores it there
    users = sa.table(
        "users",
        sa.column("id", sa.Integer()),
        sa.column("email", sa.String()),
        sa.column("name", sa.String()),
        sa.column("is_active", sa.Boolean()),
        sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("email_undeliverable_at", sa.DateTime(timezone=True)),
        sa.column("email_undeliverable_reason", sa.Text()),
    )
    op.execute(
        users.update()
        .where(sa.func.trim(users.c.email) == "")
        .values(
            email=sa.literal("unknown-sender-") + sa.cast(users.c.id, sa.String()) + sa.literal("@invalid"),
            name=sa.case((sa.func.trim(users.c.name) == "", "Unknown sender"), else_=users.c.name),
            is_active=False,
            updated_at=stamp,
            email_undeliverable_at=stamp,
            email_undeliverable_reason=REPAIR_REASON,
        )
    )


def downgrade() -> None:
    # The repaired users keep their `.invalid` address: a blank one is what the repair removed.
    with op.batch_alter_table("mail_log") as batch:
        batch.drop_column("problems")
