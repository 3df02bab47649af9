"""File-search keyword postings on SQLite too: per file and term, its chunks packed in one row.

`vector_store_keyword_postings` as migration 0430 made it on PostgreSQL (see there and
assistantd.file_search.index.postings), beside the FTS5 table: keyword search scores these rows
with numpy by FTS5's own bm25() formula instead of calling bm25() on every matching row (~2-3
µs a row: hundreds of ms for a query of common words at 100k chunks). Terms are FTS5's tokens.
The rowid table keeps (store_id, file_id, term) unique for a file's deletes, and an index on
(term, store_id, chunks, occurrences) covers the term statistics and finds a term's rows.

Existing files are backfilled from the FTS5 index itself (an fts5vocab 'instance' table: every
token of every row, as FTS5 tokenized it), so the postings are exactly what FTS5 holds: per
chunk its tokens of the `terms` column, its length counting every column's tokens (FTS5's
document length, the store-id token included). The packed format is this revision's, written
out again (migrations import no application code). 100k chunks of 200 words: about a minute.
PostgreSQL is untouched (0430 made its table); a downgrade drops the SQLite table, and search
goes back to FTS5's bm25().

Revision ID: 0440_sqlite_keyword_postings
Revises: 0430_keyword_postings
"""

from __future__ import annotations

from collections import defaultdict
from itertools import chain

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0440_sqlite_keyword_postings"
down_revision = "0430_keyword_postings"
branch_labels = None
depends_on = None

DDL = (
    """CREATE TABLE vector_store_keyword_postings (
        store_id TEXT NOT NULL,
        file_id TEXT NOT NULL,
        term TEXT NOT NULL,
        chunks INTEGER NOT NULL,
        occurrences INTEGER NOT NULL,
        postings BLOB NOT NULL,
        UNIQUE (store_id, file_id, term)
    )""",
    """CREATE INDEX ix_vector_store_keyword_postings_term
        ON vector_store_keyword_postings (term, store_id, chunks, occurrences)""",
)

# (chunk id, term frequency, chunk length), as assistantd.file_search.index.postings has it.
POSTING = np.dtype([("id", "<i8"), ("tf", "<u4"), ("length", "<u4")])
INSTANCES = "temp.vector_store_chunks_fts_instance_0440"
INSERT = sa.text(
    "INSERT INTO vector_store_keyword_postings"
    " (store_id, file_id, term, chunks, occurrences, postings)"
    " VALUES (:s, :f, :term, :chunks, :occurrences, :postings)"
)


def _row(
    file: tuple[str, str], term: str, postings: list[tuple[int, int, int]]
) -> dict[str, object]:
    packed = np.array(sorted(postings), dtype=POSTING)
    return {
        "s": file[0],
        "f": file[1],
        "term": term,
        "chunks": len(packed),
        "occurrences": int(packed["tf"].sum()),
        "postings": packed.tobytes(),
    }


def _backfill(bind: sa.Connection) -> None:
    files = {
        int(chunk_id): (str(store_id), str(file_id))
        for chunk_id, store_id, file_id in bind.execute(
            sa.text("SELECT id, store_id, file_id FROM vector_store_chunks")
        )
    }
    if not files:
        return
    bind.execute(
        sa.text(
            f"CREATE VIRTUAL TABLE {INSTANCES} USING "
            "fts5vocab(main, vector_store_chunks_fts, 'instance')"
        )
    )
    try:
        lengths = {
            int(doc): int(n)
            for doc, n in bind.execute(
                sa.text(f"SELECT doc, count(*) FROM {INSTANCES} GROUP BY doc")
            )
        }
        every: dict[tuple[str, str], list[tuple[int, int, int]]] = defaultdict(list)
        for chunk_id, file in files.items():
            length = lengths.get(chunk_id, 0)
            every[file].append((chunk_id, length, length))
        bind.execute(INSERT, [_row(file, "", found) for file, found in every.items()])
        counts = bind.execute(
            sa.text(
                f"SELECT term, doc, count(*) FROM {INSTANCES} WHERE col = 'terms'"
                " GROUP BY term, doc ORDER BY term"
            )
        )
        current: str | None = None
        by_file: dict[tuple[str, str], list[tuple[int, int, int]]] = defaultdict(list)
        for term, doc, tf in chain(counts, [(None, 0, 0)]):  # the last row ends the last term
            if term != current:
                if current is not None:
                    bind.execute(INSERT, [_row(f, current, found) for f, found in by_file.items()])
                current, by_file = term, defaultdict(list)
            if term is not None and int(doc) in files:
                by_file[files[int(doc)]].append((int(doc), int(tf), lengths[int(doc)]))
    finally:
        bind.execute(sa.text(f"DROP TABLE {INSTANCES}"))


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return
    for statement in DDL:
        op.execute(statement)
    _backfill(bind)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS vector_store_keyword_postings")
