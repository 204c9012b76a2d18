"""mail in: mailboxes, inbound columns of the mail log, undeliverable addresses, sender lists

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OUTBOUND_STATUSES = ("queued", "sent", "retrying", "failed", "not_sent")
INBOUND_STATUSES = (
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


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=32)


def _one_of(column: str, *values: str) -> sa.TextClause:
    return sa.text(f"{column} IN ({', '.join(repr(value) for value in values)})")


def upgrade() -> None:
    op.create_table(
        "mailboxes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("imap_host", sa.String(length=255), nullable=False),
        sa.Column("imap_port", sa.Integer(), nullable=False),
        sa.Column("imap_security", _enum("imap_security", "tls", "starttls", "none"), nullable=False),
        sa.Column("imap_username", sa.String(length=320), nullable=False),
        sa.Column("imap_password_sealed", sa.Text(), nullable=False),
        sa.Column("imap_folder", sa.String(length=255), nullable=False),
        sa.Column("processed_action", _enum("mail_processed_action", "mark_seen", "move"), nullable=False),
        sa.Column("processed_folder", sa.String(length=255), nullable=False),
        sa.Column("poll_interval_seconds", sa.Integer(), nullable=False),
        sa.Column("webhook_secret_hash", sa.String(length=64), nullable=True),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=True),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("poll_locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("poll_locked_by", sa.String(length=200), nullable=True),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_mailboxes_department_id_departments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailboxes")),
        sa.UniqueConstraint("address", name=op.f("uq_mailboxes_address")),
        sa.UniqueConstraint("webhook_secret_hash", name=op.f("uq_mailboxes_webhook_secret_hash")),
    )
    with op.batch_alter_table("mail_log") as batch:
        batch.drop_constraint(op.f("ck_mail_log_mail_status"), type_="check")
        batch.create_check_constraint("mail_status", _one_of("status", *OUTBOUND_STATUSES, *INBOUND_STATUSES))
        batch.add_column(sa.Column("mailbox_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("imap_uidvalidity", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("imap_uid", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("imap_pending", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("dedupe_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("message_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_mail_log_mailbox_id_mailboxes"), "mailboxes", ["mailbox_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_foreign_key(
            op.f("fk_mail_log_message_id_messages"), "messages", ["message_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_unique_constraint(op.f("uq_mail_log_dedupe_key"), ["dedupe_key"])
        batch.create_index("ix_mail_log_mailbox_uid", ["mailbox_id", "imap_uidvalidity", "imap_uid"])
        batch.create_index("ix_mail_log_sender_created_at", ["sender", "created_at"])
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email_undeliverable_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("email_undeliverable_reason", sa.Text(), nullable=False, server_default=sa.text("''"))
        )
    for table in ("tickets", "messages"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("mail_text", sa.Text(), nullable=True))
            batch.add_column(sa.Column("mail_html", sa.Text(), nullable=True))
    with op.batch_alter_table("site_settings") as batch:
        batch.add_column(sa.Column("mail_deny_senders", sa.Text(), nullable=True))
        batch.add_column(sa.Column("mail_allow_senders", sa.Text(), nullable=True))
        batch.add_column(sa.Column("mail_spam_score", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("site_settings") as batch:
        batch.drop_column("mail_spam_score")
        batch.drop_column("mail_allow_senders")
        batch.drop_column("mail_deny_senders")
    for table in ("tickets", "messages"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("mail_html")
            batch.drop_column("mail_text")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("email_undeliverable_reason")
        batch.drop_column("email_undeliverable_at")
    op.execute("DELETE FROM mail_log WHERE direction = 'inbound'")
    with op.batch_alter_table("mail_log") as batch:
        batch.drop_index("ix_mail_log_sender_created_at")
        batch.drop_index("ix_mail_log_mailbox_uid")
        batch.drop_constraint(op.f("uq_mail_log_dedupe_key"), type_="unique")
        batch.drop_constraint(op.f("fk_mail_log_message_id_messages"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_mail_log_mailbox_id_mailboxes"), type_="foreignkey")
        batch.drop_column("message_id")
        batch.drop_column("dedupe_key")
        batch.drop_column("imap_pending")
        batch.drop_column("imap_uid")
        batch.drop_column("imap_uidvalidity")
        batch.drop_column("mailbox_id")
        batch.drop_constraint(op.f("ck_mail_log_mail_status"), type_="check")
        batch.create_check_constraint("mail_status", _one_of("status", *OUTBOUND_STATUSES))
    op.drop_table("mailboxes")
