"""response_leases: which node generates a response, until when, the attempt number that fences
its writes, and whether a client asked (on any node) to cancel it (PostgreSQL, several nodes;
SQLite, one process, leaves it empty).

Revision ID: 0420_response_leases
Revises: 0410_run_leases
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0420_response_leases"
down_revision = "0410_run_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "response_leases",
        sa.Column("response_id", sa.String(length=64), nullable=False),
        sa.Column("node", sa.String(length=128), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["responses.id"],
            name=op.f("fk_response_leases_response_id_responses"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("response_id", name=op.f("pk_response_leases")),
    )
    op.create_index(op.f("ix_response_leases_expires_at"), "response_leases", ["expires_at"])
    op.create_index(op.f("ix_response_leases_node"), "response_leases", ["node"])


def downgrade() -> None:
    op.drop_index(op.f("ix_response_leases_node"), table_name="response_leases")
    op.drop_index(op.f("ix_response_leases_expires_at"), table_name="response_leases")
    op.drop_table("response_leases")
