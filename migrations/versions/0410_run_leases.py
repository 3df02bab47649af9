"""run_leases: which node executes a run, until when, and the attempt number that fences its
writes (PostgreSQL, several nodes; the in-process scheduler on SQLite leaves it empty).

Revision ID: 0410_run_leases
Revises: 0303_file_expiry
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0410_run_leases"
down_revision = "0303_file_expiry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_leases",
        sa.Column("run_id", sa.String(length=64), nullable=False),
        sa.Column("node", sa.String(length=128), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_run_leases_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_run_leases")),
    )
    op.create_index(op.f("ix_run_leases_expires_at"), "run_leases", ["expires_at"])
    op.create_index(op.f("ix_run_leases_node"), "run_leases", ["node"])


def downgrade() -> None:
    op.drop_index(op.f("ix_run_leases_node"), table_name="run_leases")
    op.drop_index(op.f("ix_run_leases_expires_at"), table_name="run_leases")
    op.drop_table("run_leases")
