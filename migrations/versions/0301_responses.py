"""responses (the object, and its input items as a JSON list)

Revision ID: 0301_responses
Revises: 0300_conversations
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0301_responses"
down_revision = "0300_conversations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("input", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responses")),
    )
    op.create_index(op.f("ix_responses_project_id"), "responses", ["project", "id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_responses_project_id"), "responses")
    op.drop_table("responses")
