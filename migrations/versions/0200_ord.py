"""A sort key (`ord`) on every listed document table.

Lists and thread transcripts are ordered by creation. Ids we make sort that way (ids.py), so
`ord` is the id for them; objects imported from an OpenAI export keep their original ids, which
are random, and get an `ord` made from their `created_at` instead (assistantd.transfer).

Revision ID: 0200_ord
Revises: 0103_index_generation
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0200_ord"
down_revision = "0103_index_generation"
branch_labels = None
depends_on = None

# table -> the column sets of its new indexes (each ending in ord)
_INDEXES: dict[str, list[list[str]]] = {
    "assistants": [["project", "ord"]],
    "threads": [["project", "ord"]],
    "files": [["project", "ord"], ["project", "purpose", "ord"]],
    "messages": [["thread_id", "ord"]],
    "runs": [["thread_id", "ord"]],
    "run_steps": [["run_id", "ord"], ["thread_id", "ord"]],
}


def _name(table: str, columns: list[str]) -> str:
    return f"ix_{table}_{'_'.join(columns)}"


def upgrade() -> None:
    for table, indexes in _INDEXES.items():
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("ord", sa.String(64), nullable=True))
        op.execute(f"UPDATE {table} SET ord = id")
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column("ord", existing_type=sa.String(64), nullable=False)
            for columns in indexes:
                batch_op.create_index(_name(table, columns), columns, unique=False)


def downgrade() -> None:
    for table, indexes in _INDEXES.items():
        with op.batch_alter_table(table) as batch_op:
            for columns in indexes:
                batch_op.drop_index(_name(table, columns))
            batch_op.drop_column("ord")
