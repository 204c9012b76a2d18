"""agent productivity: canned replies, saved views, ticket links and merges, message revisions,
tag authorship, merge pointers

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "canned_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=100), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("usage_count", sa.Integer(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_canned_replies_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_canned_replies_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_replies")),
    )
    with op.batch_alter_table("canned_replies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_canned_replies_category"), ["category"], unique=False)
        batch_op.create_index("ix_canned_replies_owner_id_title", ["owner_id", "title"], unique=False)

    op.create_table(
        "saved_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("is_shared", sa.Boolean(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_saved_views_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_saved_views")),
    )
    with op.batch_alter_table("saved_views", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_saved_views_is_shared"), ["is_shared"], unique=False)
        batch_op.create_index(batch_op.f("ix_saved_views_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "ticket_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "related",
                "duplicate",
                "parent",
                name="ticket_link_kind",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("source_id <> target_id", name=op.f("ck_ticket_links_not_self")),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_ticket_links_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_id"], ["tickets.id"], name=op.f("fk_ticket_links_source_id_tickets"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["tickets.id"], name=op.f("fk_ticket_links_target_id_tickets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_links")),
        sa.UniqueConstraint("source_id", "target_id", name="uq_ticket_links_pair"),
    )
    with op.batch_alter_table("ticket_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_links_target_id"), ["target_id"], unique=False)

    op.create_table(
        "ticket_merges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("primary_id", sa.Integer(), nullable=False),
        sa.Column("secondary_id", sa.Integer(), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("merged_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("merged_by_id", sa.Integer(), nullable=True),
        sa.Column("unmerged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("unmerged_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["merged_by_id"],
            ["users.id"],
            name=op.f("fk_ticket_merges_merged_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["primary_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_merges_primary_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["secondary_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_merges_secondary_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unmerged_by_id"],
            ["users.id"],
            name=op.f("fk_ticket_merges_unmerged_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_merges")),
    )
    with op.batch_alter_table("ticket_merges", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_merges_primary_id"), ["primary_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ticket_merges_secondary_id"), ["secondary_id"], unique=False)

    op.create_table(
        "message_revisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("written_by_id", sa.Integer(), nullable=True),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("replaced_by_id", sa.Integer(), nullable=True),
        sa.Column("replaced_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_message_revisions_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["replaced_by_id"],
            ["users.id"],
            name=op.f("fk_message_revisions_replaced_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["written_by_id"],
            ["users.id"],
            name=op.f("fk_message_revisions_written_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_revisions")),
    )
    with op.batch_alter_table("message_revisions", schema=None) as batch_op:
        batch_op.create_index("ix_message_revisions_message_id_id", ["message_id", "id"], unique=False)

    # Plain columns (no foreign key): on SQLite a new foreign key means rebuilding the table, which
    # would drop its full-text triggers. Tickets and messages are never deleted, only soft-deleted.
    op.add_column("messages", sa.Column("moved_from_ticket_id", sa.Integer(), nullable=True))
    op.add_column("tickets", sa.Column("merged_into_id", sa.Integer(), nullable=True))
    op.create_index(op.f("ix_tickets_merged_into_id"), "tickets", ["merged_into_id"], unique=False)

    with op.batch_alter_table("site_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("agents_create_tags", sa.Boolean(), nullable=True))

    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("created_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_tags_created_by_id_users"), "users", ["created_by_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:

    op.drop_index(op.f("ix_tickets_merged_into_id"), table_name="tickets")
    # Native DROP COLUMN (SQLite 3.35+): no table rebuild, so the search triggers stay.
    op.execute("ALTER TABLE tickets DROP COLUMN merged_into_id")
    op.execute("ALTER TABLE messages DROP COLUMN moved_from_ticket_id")

    with op.batch_alter_table("tags", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_tags_created_by_id_users"), type_="foreignkey")
        batch_op.drop_column("created_by_id")
        batch_op.drop_column("created_at")

    with op.batch_alter_table("site_settings", schema=None) as batch_op:
        batch_op.drop_column("agents_create_tags")

    with op.batch_alter_table("message_revisions", schema=None) as batch_op:
        batch_op.drop_index("ix_message_revisions_message_id_id")

    op.drop_table("message_revisions")
    with op.batch_alter_table("ticket_merges", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_merges_secondary_id"))
        batch_op.drop_index(batch_op.f("ix_ticket_merges_primary_id"))

    op.drop_table("ticket_merges")
    with op.batch_alter_table("ticket_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_links_target_id"))

    op.drop_table("ticket_links")
    with op.batch_alter_table("saved_views", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_saved_views_owner_id"))
        batch_op.drop_index(batch_op.f("ix_saved_views_is_shared"))

    op.drop_table("saved_views")
    with op.batch_alter_table("canned_replies", schema=None) as batch_op:
        batch_op.drop_index("ix_canned_replies_owner_id_title")
        batch_op.drop_index(batch_op.f("ix_canned_replies_category"))

    op.drop_table("canned_replies")
