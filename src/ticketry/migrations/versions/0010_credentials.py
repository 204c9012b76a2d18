"""credentials: API token scopes, where and when browser sessions were used, pending sign-ups

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Tokens issued before scopes existed keep doing everything they did.
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("scope", sa.String(length=32), nullable=False, server_default="full"))
        batch.create_check_constraint("token_scope", "scope IN ('read', 'full')")

    with op.batch_alter_table("web_sessions") as batch:
        batch.add_column(sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("user_agent", sa.String(length=300), nullable=False, server_default=""))
        batch.add_column(sa.Column("ip", sa.String(length=64), nullable=False, server_default=""))
    # Sessions from before kept no last use; their start is the best lower bound there is.
    op.execute("UPDATE web_sessions SET last_used_at = created_at")

    op.create_table(
        "signups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("mailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signups")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_signups_token_hash")),
    )
    op.create_index("ix_signups_ip_created_at", "signups", ["ip", "created_at"], unique=False)
    op.create_index("ix_signups_email_created_at", "signups", ["email", "created_at"], unique=False)
    op.create_index("ix_signups_created_at", "signups", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_signups_created_at", table_name="signups")
    op.drop_index("ix_signups_email_created_at", table_name="signups")
    op.drop_index("ix_signups_ip_created_at", table_name="signups")
    op.drop_table("signups")

    with op.batch_alter_table("web_sessions") as batch:
        batch.drop_column("ip")
        batch.drop_column("user_agent")
        batch.drop_column("last_used_at")

    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_constraint(op.f("ck_api_tokens_token_scope"), type_="check")
        batch.drop_column("scope")
