"""File-search vectors in pgvector on PostgreSQL, when the extension can be had.

On PostgreSQL with pgvector 0.8 or later installed in the database, or available to install
and the role allowed to (CREATE EXTENSION vector needs a superuser: pgvector is not a trusted
extension), this makes `vector_store_chunk_vectors`: per chunk (same id, deleted with it) its
store, file and `embedding` (type `vector`, no fixed dimensions, since each store's embedder
may differ; kept in the row, not in TOAST), filled from the chunks' float32 bytes, with a
partial HNSW index for each dimension count already stored (see
assistantd.file_search.index.postgres, which makes the index for later dimensions the same
way and says why the vectors have a table of their own). 0.8 is needed for iterative index
scans, which keep store- and file-filtered searches complete. Otherwise it changes nothing and
file search keeps its BIT VARYING fallback: the index picks its path by whether the table
exists. SQLite is untouched.

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
TABLE = """CREATE TABLE vector_store_chunk_vectors (
    id BIGINT PRIMARY KEY REFERENCES vector_store_chunks (id) ON DELETE CASCADE,
    store_id TEXT NOT NULL,
    file_id TEXT NOT NULL,
    embedding vector NOT NULL
)"""
# Same name and shape as the indexes assistantd.file_search.index.postgres makes.
HNSW_INDEX = """CREATE INDEX IF NOT EXISTS ix_vector_store_chunk_vectors_hnsw_{n}
    ON vector_store_chunk_vectors USING hnsw ((embedding::vector({n})) vector_ip_ops)
    WHERE vector_dims(embedding) = {n}"""


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
        "SELECT id, store_id, file_id, embedding FROM vector_store_chunks"
        " WHERE id > :after ORDER BY id LIMIT :n"
    )
    insert = sa.text(
        "INSERT INTO vector_store_chunk_vectors (id, store_id, file_id, embedding)"
        " VALUES (:id, :store_id, :file_id, CAST(CAST(:v AS REAL[]) AS vector))"
    )
    after = -1
    while rows := bind.execute(select, {"after": after, "n": BATCH}).all():
        bind.execute(
            insert,
            [{"id": r[0], "store_id": r[1], "file_id": r[2], "v": _floats(r[3])} for r in rows],
        )
        after = rows[-1][0]


def _floats(embedding: bytes) -> list[float]:
    floats: list[float] = np.frombuffer(embedding, dtype="<f4").tolist()
    return floats


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not _has_pgvector(bind):
        return
    op.execute(TABLE)
    # In the row, not in TOAST: an exact scan (small stores) then reads no TOAST table.
    op.execute("ALTER TABLE vector_store_chunk_vectors ALTER COLUMN embedding SET STORAGE MAIN")
    op.execute(
        "CREATE INDEX ix_vector_store_chunk_vectors_file"
        " ON vector_store_chunk_vectors (store_id, file_id)"
    )
    _backfill(bind)
    dimensions = bind.execute(
        sa.text("SELECT DISTINCT dimensions FROM vector_store_index_stores ORDER BY 1")
    ).scalars()
    for n in dimensions.all():
        if n <= HNSW_MAX_DIMENSIONS:
            op.execute(HNSW_INDEX.format(n=int(n)))


def downgrade() -> None:
    # The HNSW indexes go with the table; the extension stays (other things may use it).
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE IF EXISTS vector_store_chunk_vectors")
