"""File-search HNSW indexes on the vectors in half precision (pgvector's halfvec).

Migration 0102 indexed `embedding::vector(n)`: 260 MB for 100k chunks of 512 dimensions, and a
search with `hnsw.ef_search` 400 touches 2,000-6,000 of its pages, most of them read from
outside PostgreSQL's shared buffers (128 MB by default). An index on `embedding::halfvec(n)`
has half the pages (130 MB) with the same recall on the benchmark's vectors; scores stay exact
(assistantd.file_search.index.postgres re-ranks the rows the index returns by their float32
vectors). halfvec indexes also take up to 4,000 dimensions (vector: 2,000), so stores of
2,001-4,000 dimensions get an index too.

For each dimension count stored this makes `ix_vector_store_chunk_vectors_half_{n}` and drops
0102's `ix_vector_store_chunk_vectors_hnsw_{n}`; the downgrade does the reverse. Building the
index reads every vector of that dimension count (100k chunks of 512 dimensions: 161 s with the
64 MB default of maintenance_work_mem at load ~6, 34 s with 1 GB). Nothing to do without
pgvector (no vector table) or on SQLite.

Revision ID: 0450_pgvector_halfvec_index
Revises: 0440_sqlite_keyword_postings
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0450_pgvector_halfvec_index"
down_revision = "0440_sqlite_keyword_postings"
branch_labels = None
depends_on = None

HALF_MAX_DIMENSIONS = 4000
VECTOR_MAX_DIMENSIONS = 2000
# Same name and shape as the indexes assistantd.file_search.index.postgres makes.
HALF_INDEX = """CREATE INDEX IF NOT EXISTS ix_vector_store_chunk_vectors_half_{n}
    ON vector_store_chunk_vectors USING hnsw ((embedding::halfvec({n})) halfvec_ip_ops)
    WHERE vector_dims(embedding) = {n}"""
# Migration 0102's.
VECTOR_INDEX = """CREATE INDEX IF NOT EXISTS ix_vector_store_chunk_vectors_hnsw_{n}
    ON vector_store_chunk_vectors USING hnsw ((embedding::vector({n})) vector_ip_ops)
    WHERE vector_dims(embedding) = {n}"""


def _dimensions(bind: sa.Connection) -> list[int] | None:
    """The dimension counts of the stores (None without the vector table: no pgvector)."""
    if bind.dialect.name != "postgresql":
        return None
    table = bind.execute(sa.text("SELECT to_regclass('vector_store_chunk_vectors')")).scalar()
    if table is None:
        return None
    found = bind.execute(
        sa.text("SELECT DISTINCT dimensions FROM vector_store_index_stores ORDER BY 1")
    ).scalars()
    return [int(n) for n in found]


def _drop(prefix: str) -> None:
    names = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'vector_store_chunk_vectors'"
                " AND left(indexname, length(:prefix)) = :prefix"
            ),
            {"prefix": prefix},
        )
        .scalars()
        .all()
    )
    for name in names:
        op.execute(f'DROP INDEX IF EXISTS "{name}"')


def upgrade() -> None:
    dimensions = _dimensions(op.get_bind())
    if dimensions is None:
        return
    for n in dimensions:
        if n <= HALF_MAX_DIMENSIONS:
            op.execute(HALF_INDEX.format(n=n))
    _drop("ix_vector_store_chunk_vectors_hnsw_")


def downgrade() -> None:
    dimensions = _dimensions(op.get_bind())
    if dimensions is None:
        return
    for n in dimensions:
        if n <= VECTOR_MAX_DIMENSIONS:
            op.execute(VECTOR_INDEX.format(n=n))
    _drop("ix_vector_store_chunk_vectors_half_")
