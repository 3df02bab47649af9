"""Files can expire (`expires_after` on upload): their `expires_at`, indexed for the sweep.

Revision ID: 0303_file_expiry
Revises: 0302_containers
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0303_file_expiry"
down_revision = "0302_containers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("files") as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_files_expires_at", ["expires_at"])


def downgrade() -> None:
    with op.batch_alter_table("files") as batch_op:
        batch_op.drop_index("ix_files_expires_at")
        batch_op.drop_column("expires_at")
