"""File-search keyword postings on PostgreSQL: per file and term, its chunks packed in one row.

`vector_store_keyword_postings` holds, for each indexed file and each term of its chunks, how
many chunks hold the term, how often it occurs, and the postings packed as (chunk id, term
frequency, chunk length) records, plus one row per file with the empty term listing every
chunk (assistantd.file_search.index.postings). Keyword search ranks from these by BM25 instead
of scoring every matching chunk's TOASTed tsvector in SQL. The postings are kept out of line
uncompressed (STORAGE EXTERNAL: packed ids barely compress, and reading them must be cheap).
`term` is in the C collation so a one-character prefix is a range of the (store_id, term)
index. Existing files are backfilled from their chunks' `terms` tsvectors, packed here as the
index packs them (the format of this revision, written out again: migrations import no
application code); a tsvector keeps 255 positions of a term at most, so a term more frequent
than that in one chunk counts 255 there until the file is indexed again. The `terms` tsvector and
its GIN index stay (written as before), so a downgrade leaves the previous search working.
SQLite is untouched (its FTS5 table already is an inverted index).

Revision ID: 0430_keyword_postings
Revises: 0420_response_leases
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0430_keyword_postings"
down_revision = "0420_response_leases"
branch_labels = None
depends_on = None

TABLE = """CREATE TABLE vector_store_keyword_postings (
    store_id TEXT NOT NULL,
    file_id TEXT NOT NULL,
    term TEXT COLLATE "C" NOT NULL,
    chunks INTEGER NOT NULL,
    occurrences BIGINT NOT NULL,
    postings BYTEA NOT NULL,
    PRIMARY KEY (store_id, file_id, term)
)"""
INDEXES = (
    "ALTER TABLE vector_store_keyword_postings ALTER COLUMN postings SET STORAGE EXTERNAL",
    # Term statistics are an index-only scan; postings are fetched through it too.
    """CREATE INDEX ix_vector_store_keyword_postings_term
        ON vector_store_keyword_postings (store_id, term) INCLUDE (chunks, occurrences)""",
)


# (chunk id, term frequency, chunk length), as assistantd.file_search.index.postings has it.
POSTING = np.dtype([("id", "<i8"), ("tf", "<u4"), ("length", "<u4")])
EXTRA_TOKENS = 1  # a chunk's length counts one token more than its terms (as FTS5's does)


def _file_rows(chunk_ids: list[int], terms: list[tuple[int, str, int]]) -> list[dict[str, object]]:
    """The postings rows of one file from its chunk ids and their (chunk id, term, frequency)."""
    lengths = dict.fromkeys(chunk_ids, EXTRA_TOKENS)
    by_term: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for chunk_id, term, tf in terms:
        lengths[chunk_id] += tf
        by_term[term].append((chunk_id, tf))
    rows = [_row("", [(i, n, n) for i, n in lengths.items()])]
    for term, found in by_term.items():
        rows.append(_row(term, [(i, tf, lengths[i]) for i, tf in found]))
    return rows


def _row(term: str, postings: list[tuple[int, int, int]]) -> dict[str, object]:
    packed = np.array(sorted(postings), dtype=POSTING)
    return {
        "term": term,
        "chunks": len(packed),
        "occurrences": int(packed["tf"].sum()),
        "postings": packed.tobytes(),
    }


def _backfill(bind: sa.Connection) -> None:
    files = bind.execute(
        sa.text("SELECT DISTINCT store_id, file_id FROM vector_store_chunks ORDER BY 1, 2")
    ).all()
    chunks = sa.text("SELECT id FROM vector_store_chunks WHERE store_id = :s AND file_id = :f")
    terms = sa.text(
        "SELECT c.id, t.lexeme, coalesce(array_length(t.positions, 1), 1)"
        " FROM vector_store_chunks AS c, unnest(c.terms) AS t"
        " WHERE c.store_id = :s AND c.file_id = :f"
    )
    insert = sa.text(
        "INSERT INTO vector_store_keyword_postings"
        " (store_id, file_id, term, chunks, occurrences, postings)"
        " VALUES (:s, :f, :term, :chunks, :occurrences, :postings)"
    )
    for store_id, file_id in files:
        scope = {"s": store_id, "f": file_id}
        chunk_ids = [int(i) for i in bind.execute(chunks, scope).scalars()]
        found = [(int(r[0]), str(r[1]), int(r[2])) for r in bind.execute(terms, scope)]
        rows = _file_rows(chunk_ids, found)
        bind.execute(insert, [{"s": store_id, "f": file_id, **row} for row in rows])


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute(TABLE)
    for statement in INDEXES:
        op.execute(statement)
    _backfill(bind)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TABLE IF EXISTS vector_store_keyword_postings")
