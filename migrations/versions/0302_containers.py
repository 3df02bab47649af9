"""containers (code interpreter sessions of the Responses API) and their files

Revision ID: 0302_containers
Revises: 0301_responses
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0302_containers"
down_revision = "0301_responses"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "containers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("ord", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_containers")),
    )
    op.create_index(
        op.f("ix_containers_project_ord"), "containers", ["project", "ord"], unique=False
    )
    op.create_table(
        "container_files",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("container_id", sa.String(length=64), nullable=False),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("ord", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["container_id"],
            ["containers.id"],
            name=op.f("fk_container_files_container_id_containers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_container_files")),
    )
    op.create_index(
        op.f("ix_container_files_container_id_ord"),
        "container_files",
        ["container_id", "ord"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_container_files_container_id_ord"), "container_files")
    op.drop_table("container_files")
    op.drop_index(op.f("ix_containers_project_ord"), "containers")
    op.drop_table("containers")
