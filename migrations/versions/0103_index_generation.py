"""A generation number per indexed vector store, bumped by every change to its chunks.

Lets a search process keep a store's vector sign bits in memory and know, with one point query
in the same read snapshot, whether they are still current (assistantd.file_search.index).

Revision ID: 0103_index_generation
Revises: 0102_pgvector
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0103_index_generation"
down_revision = "0102_pgvector"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("vector_store_index_stores") as batch_op:
        batch_op.add_column(
            sa.Column("generation", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("vector_store_index_stores") as batch_op:
        batch_op.drop_column("generation")
