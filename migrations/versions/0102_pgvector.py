"""File-search vectors in pgvector on PostgreSQL, when the extension can be had.

On PostgreSQL with pgvector 0.8 or later installed in the database, or available to install
and the role allowed to (CREATE EXTENSION vector needs a superuser: pgvector is not a trusted
extension), this adds `vector_store_chunks.embedding_vector` (type `vector`, no fixed
dimensions, since each store's embedder may differ), fills it from the stored float32 bytes,
and makes a partial HNSW index for each dimension count already stored (see
assistantd.vector_stores.index.postgres, which makes the index for later dimensions the same
way). 0.8 is needed for iterative index scans, which keep store- and file-filtered searches
complete. Otherwise it changes nothing and file search keeps its BIT VARYING fallback: the
index picks its path by whether the column exists. SQLite is untouched.

Revision ID: 0102_pgvector
Revises: 0101_vector_stores
"""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0102_pgvector"
down_revision = "0101_vector_stores"
branch_labels = None
depends_on = None

MIN_VERSION = (0, 8)
HNSW_MAX_DIMENSIONS = 2000
BATCH = 1000
# Same name and shape as the indexes assistantd.vector_stores.index.postgres makes.
HNSW_INDEX = """CREATE INDEX IF NOT EXISTS ix_vector_store_chunks_hnsw_{n}
    ON vector_store_chunks USING hnsw ((embedding_vector::vector({n})) vector_ip_ops)
    WHERE vector_dims(embedding_vector) = {n}"""


def _version(text: str | None) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".")[:2]) if text else ()


def _has_pgvector(bind: sa.Connection) -> bool:
    """Whether pgvector (MIN_VERSION or later) is in this database, installing it if we may."""
    row = bind.execute(
        sa.text(
            "SELECT installed_version, default_version FROM pg_available_extensions"
            " WHERE name = 'vector'"
        )
    ).first()
    if row is None:
        return False
    if row[0] is not None:
        return _version(row[0]) >= MIN_VERSION
    if _version(row[1]) < MIN_VERSION:
        return False
    try:
        with bind.begin_nested():  # a savepoint: a refusal must not abort the migration
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS vector"))
    except sa.exc.DBAPIError:
        return False  # typically: permission denied (not a superuser)
    return True


def _backfill(bind: sa.Connection) -> None:
    select = sa.text(
        "SELECT id, embedding FROM vector_store_chunks WHERE id > :after ORDER BY id LIMIT :n"
    )
    update = sa.text(
        "UPDATE vector_store_chunks SET embedding_vector = CAST(CAST(:v AS REAL[]) AS vector)"
        " WHERE id = :id"
    )
    after = -1
    while rows := bind.execute(select, {"after": after, "n": BATCH}).all():
        bind.execute(
            update,
            [{"id": r[0], "v": np.frombuffer(r[1], dtype="<f4").tolist()} for r in rows],
        )
        after = rows[-1][0]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not _has_pgvector(bind):
        return
    op.execute("ALTER TABLE vector_store_chunks ADD COLUMN embedding_vector vector")
    # Kept in the row, not in TOAST: an exact scan (small stores) then reads no TOAST table.
    op.execute("ALTER TABLE vector_store_chunks ALTER COLUMN embedding_vector SET STORAGE MAIN")
    _backfill(bind)
    dimensions = bind.execute(
        sa.text("SELECT DISTINCT dimensions FROM vector_store_index_stores ORDER BY 1")
    ).scalars()
    for n in dimensions.all():
        if n <= HNSW_MAX_DIMENSIONS:
            op.execute(HNSW_INDEX.format(n=int(n)))


def downgrade() -> None:
    # The HNSW indexes go with the column; the extension stays (other things may use it).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE IF EXISTS vector_store_chunks DROP COLUMN IF EXISTS embedding_vector"
        )
