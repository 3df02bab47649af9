"""conversations and their items

Revision ID: 0300_conversations
Revises: 0200_ord
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0300_conversations"
down_revision = "0200_ord"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "conversations",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("ord", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
    )
    op.create_index(
        op.f("ix_conversations_project_id"), "conversations", ["project", "id"], unique=False
    )
    op.create_table(
        "conversation_items",
        sa.Column("conversation_id", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("ord", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_conversation_items_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("conversation_id", "id", name=op.f("pk_conversation_items")),
    )
    op.create_index(
        op.f("ix_conversation_items_conversation_id_ord"),
        "conversation_items",
        ["conversation_id", "ord"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_conversation_items_conversation_id_ord"), "conversation_items")
    op.drop_table("conversation_items")
    op.drop_index(op.f("ix_conversations_project_id"), "conversations")
    op.drop_table("conversations")
