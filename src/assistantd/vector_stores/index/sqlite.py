"""The SQLite half of the chunk index: FTS5 for keywords, sqlite-vec for Hamming pre-selection.

Owns the dialect-specific SQL only (inserts, deletes, keyword ranking, vector candidates); the
shared logic is in the package `__init__`. Needs sqlite-vec on the connection (see
`assistantd.vector_stores.sqlite_extensions`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.vector_stores import keywords
from assistantd.vector_stores.index.rows import ChunkRow, encode_embedding, sign_bits


def _store_token(store_id: str) -> str:
    """A store id as one FTS5 token (hex), so MATCH can scope to it exactly."""
    return "s" + store_id.encode().hex()


# Only the columns written here; a Core table lets one INSERT … RETURNING cover every chunk.
_CHUNKS = Table(
    "vector_store_chunks",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("store_id", String),
    Column("file_id", String),
    Column("chunk_index", Integer),
    Column("start_offset", Integer),
    Column("end_offset", Integer),
    Column("tokens", Integer),
    Column("embedding_bits", LargeBinary),
    Column("embedding", LargeBinary),
    Column("text", String),
)
_INSERT_FTS = text(
    "INSERT INTO vector_store_chunks_fts (rowid, terms, store_id) VALUES (:id, :terms, :store)"
)


async def insert_chunks(
    conn: AsyncConnection, store_id: str, file_id: str, rows: Sequence[ChunkRow]
) -> None:
    if not rows:
        return
    values = [
        {
            "store_id": store_id,
            "file_id": file_id,
            "chunk_index": row.index,
            "start_offset": row.start,
            "end_offset": row.end,
            "tokens": row.tokens,
            "embedding_bits": row.bits,
            "embedding": row.embedding,
            "text": row.text,
        }
        for row in rows
    ]
    statement = insert(_CHUNKS).returning(_CHUNKS.c.id, sort_by_parameter_order=True)
    ids = (await conn.execute(statement, values)).scalars().all()
    store = _store_token(store_id)
    fts_rows = [
        {"id": chunk_id, "terms": " ".join(keywords.terms(row.text)), "store": store}
        for chunk_id, row in zip(ids, rows, strict=True)
    ]
    await conn.execute(_INSERT_FTS, fts_rows)


async def delete_chunks(conn: AsyncConnection, store_id: str, file_id: str | None) -> int:
    """Delete a file's chunks (or, with file_id None, a whole store's); returns how many."""
    scope = "store_id = :store_id" + ("" if file_id is None else " AND file_id = :file_id")
    params = {"store_id": store_id, "file_id": file_id}
    await conn.execute(
        text(
            "DELETE FROM vector_store_chunks_fts WHERE rowid IN "
            f"(SELECT id FROM vector_store_chunks WHERE {scope})"
        ),
        params,
    )
    result = await conn.execute(text(f"DELETE FROM vector_store_chunks WHERE {scope}"), params)
    return int(result.rowcount)


async def _selective_terms(conn: AsyncConnection, query: list[str]) -> list[str]:
    """The query terms that can change a BM25 ranking.

    FTS5's idf, ln((N - n + 0.5) / (n + 0.5)), is floored at 1e-6 for a term in more than half
    the rows, so such a term adds nothing to a score; as an OR operand it would only make (nearly)
    every row a candidate to score. They are left out unless nothing else is left; terms no row
    has are left out too. One-character (prefix) terms are always kept.
    """
    exact = [t for t in query if not keywords.is_prefix(t)]
    if not exact:
        return query
    statement = text(
        "SELECT term, doc FROM vector_store_chunks_fts_vocab WHERE term IN :terms"
    ).bindparams(bindparam("terms", expanding=True))
    counts = {str(r[0]): int(r[1]) for r in await conn.execute(statement, {"terms": exact})}
    # N as FTS5 counts it (every row of the table), from the per-file counts: far fewer rows.
    total = await conn.scalar(
        text("SELECT coalesce(sum(chunk_count), 0) FROM vector_store_index_files")
    )
    total = int(total or 0)
    present = [t for t in query if keywords.is_prefix(t) or counts.get(t, 0) > 0]
    selective = [t for t in present if keywords.is_prefix(t) or counts[t] <= total / 2]
    return selective or present


async def keyword_ranked(
    conn: AsyncConnection,
    store_ids: Sequence[str],
    file_ids: Collection[str] | None,
    query: list[str],
    limit: int,
) -> list[tuple[int, float]]:
    """(chunk id, BM25 score, higher is better) for chunks matching any term, best first."""
    query = await _selective_terms(conn, query)
    if not query:
        return []
    stores = " OR ".join(f'"{_store_token(s)}"' for s in store_ids)
    match = f"store_id : ({stores}) AND terms : ({keywords.fts5_query(query)})"
    sql = (
        "SELECT f.rowid, -f.rank FROM vector_store_chunks_fts AS f "
        + (
            ""
            if file_ids is None
            else "JOIN vector_store_chunks AS c ON c.id = f.rowid AND c.file_id IN :files "
        )
        + "WHERE vector_store_chunks_fts MATCH :match ORDER BY f.rank LIMIT :limit"
    )
    statement = text(sql)
    params: dict[str, object] = {"match": match, "limit": limit}
    if file_ids is not None:
        statement = statement.bindparams(bindparam("files", expanding=True))
        params["files"] = list(file_ids)
    rows = (await conn.execute(statement, params)).all()
    return [(int(r[0]), float(r[1])) for r in rows]


async def vector_ranked(
    conn: AsyncConnection,
    store_ids: Sequence[str],
    file_ids: Collection[str] | None,
    query: npt.NDArray[np.float32],
    candidates: int,
    depth: int,
) -> list[tuple[int, float]]:
    """(chunk id, cosine similarity), best first: the `candidates` nearest by Hamming distance
    on the sign bits (from the covering index only), re-scored exactly, in one statement."""
    preselect = (
        "SELECT id FROM vector_store_chunks INDEXED BY ix_vector_store_chunks_vector "
        "WHERE store_id IN :stores"
        + ("" if file_ids is None else " AND file_id IN :files")
        + " ORDER BY vec_distance_hamming(vec_bit(embedding_bits), vec_bit(:bits))"
        " LIMIT :candidates"
    )
    sql = (
        "SELECT id, 1.0 - vec_distance_cosine(embedding, :vector) AS similarity "
        f"FROM vector_store_chunks WHERE id IN ({preselect}) "
        "ORDER BY similarity DESC, id LIMIT :depth"
    )
    statement = text(sql).bindparams(bindparam("stores", expanding=True))
    params: dict[str, object] = {
        "stores": list(store_ids),
        "bits": sign_bits(query),
        "vector": encode_embedding(query),
        "candidates": candidates,
        "depth": depth,
    }
    if file_ids is not None:
        statement = statement.bindparams(bindparam("files", expanding=True))
        params["files"] = list(file_ids)
    rows = (await conn.execute(statement, params)).all()
    return [(int(r[0]), float(r[1])) for r in rows]
