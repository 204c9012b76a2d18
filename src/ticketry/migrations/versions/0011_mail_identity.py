"""mail identity: ticket participants, held messages, mail held for review, what customers see
as a ticket's last change

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BEFORE = (
    "queued",
    "sent",
    "retrying",
    "failed",
    "not_sent",
    "received",
    "created_ticket",
    "appended",
    "duplicate",
    "auto_reply",
    "bounce",
    "loop",
    "spam_held",
    "rejected",
)


def _one_of(column: str, *values: str) -> sa.TextClause:
    return sa.text(f"{column} IN ({', '.join(repr(value) for value in values)})")


def upgrade() -> None:
    op.create_table(
        "ticket_participants",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "cc",
                "accepted",
                "added",
                name="ticket_participant_role",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("added_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_participants_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_ticket_participants_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["added_by_id"],
            ["users.id"],
            name=op.f("fk_ticket_participants_added_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("ticket_id", "user_id", name=op.f("pk_ticket_participants")),
    )
    op.create_index(op.f("ix_ticket_participants_user_id"), "ticket_participants", ["user_id"])
    # Plain ADD COLUMNs: on SQLite a table rebuild would drop the search triggers (see 0009).
    op.add_column("messages", sa.Column("held_reason", sa.Text(), nullable=True))
    op.add_column("tickets", sa.Column("public_updated_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "tickets", sa.Column("public_version", sa.Integer(), nullable=False, server_default=sa.text("1"))
    )
    # Until now every change showed: the last one is the customer's last change too. (The search
    # triggers watch number, title and description only: this rewrites no index.)
    op.execute("UPDATE tickets SET public_updated_at = updated_at")
    with op.batch_alter_table("mail_log") as batch:
        batch.drop_constraint(op.f("ck_mail_log_mail_status"), type_="check")
        batch.create_check_constraint("mail_status", _one_of("status", *BEFORE, "held"))


def downgrade() -> None:
    op.execute("UPDATE mail_log SET status = 'spam_held' WHERE status = 'held'")
    with op.batch_alter_table("mail_log") as batch:
        batch.drop_constraint(op.f("ck_mail_log_mail_status"), type_="check")
        batch.create_check_constraint("mail_status", _one_of("status", *BEFORE))
    op.drop_column("tickets", "public_version")
    op.drop_column("tickets", "public_updated_at")
    op.drop_column("messages", "held_reason")
    op.drop_index(op.f("ix_ticket_participants_user_id"), table_name="ticket_participants")
    op.drop_table("ticket_participants")
