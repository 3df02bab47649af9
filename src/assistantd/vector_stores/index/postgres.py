"""The PostgreSQL half of the chunk index: tsvector + GIN for keywords, BIT VARYING Hamming.

Owns the dialect-specific SQL only; the shared logic is in the package `__init__`. The tsvector
and tsquery are built from `keywords` terms as literals (cast from text), so PostgreSQL's own
text-search parser and its locale never decide what a Japanese word is. pgvector is not used
yet: Debian 12 ships no postgresql-15-pgvector, and exact re-scoring of a Hamming pre-selection
keeps both databases on the same algorithm.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.vector_stores import keywords
from assistantd.vector_stores.index.rows import ChunkRow, bit_string

_INSERT_CHUNK = text(
    """INSERT INTO vector_store_chunks (store_id, file_id, chunk_index, start_offset,
        end_offset, tokens, embedding_bits, embedding, terms, text)
    VALUES (:store_id, :file_id, :chunk_index, :start, :end, :tokens,
        CAST(CAST(:bits AS TEXT) AS BIT VARYING), :embedding,
        CAST(CAST(:terms AS TEXT) AS TSVECTOR), :text)"""
)


async def insert_chunks(
    conn: AsyncConnection, store_id: str, file_id: str, rows: Sequence[ChunkRow]
) -> None:
    if not rows:
        return
    params = [
        {
            "store_id": store_id,
            "file_id": file_id,
            "chunk_index": row.index,
            "start": row.start,
            "end": row.end,
            "tokens": row.tokens,
            "bits": bit_string(row.bits, len(row.embedding) // 4),
            "embedding": row.embedding,
            "terms": keywords.tsvector_literal(row.text),
            "text": row.text,
        }
        for row in rows
    ]
    await conn.execute(_INSERT_CHUNK, params)


async def delete_chunks(conn: AsyncConnection, store_id: str, file_id: str | None) -> int:
    """Delete a file's chunks (or, with file_id None, a whole store's); returns how many."""
    scope = "store_id = :store_id" + ("" if file_id is None else " AND file_id = :file_id")
    params = {"store_id": store_id, "file_id": file_id} if file_id else {"store_id": store_id}
    result = await conn.execute(text(f"DELETE FROM vector_store_chunks WHERE {scope}"), params)
    return int(result.rowcount)


def _scoped(
    sql: str, file_ids: Collection[str] | None, params: dict[str, object]
) -> TextClause:
    statement = text(sql).bindparams(bindparam("stores", expanding=True))
    if file_ids is not None:
        statement = statement.bindparams(bindparam("files", expanding=True))
        params["files"] = list(file_ids)
    return statement


async def keyword_ranked(
    conn: AsyncConnection,
    store_ids: Sequence[str],
    file_ids: Collection[str] | None,
    query: list[str],
    limit: int,
) -> list[tuple[int, float]]:
    """(chunk id, ts_rank score, higher is better) for chunks matching any term, best first."""
    sql = (
        "SELECT c.id, ts_rank(c.terms, q.query) AS score "
        "FROM vector_store_chunks AS c, "
        "(SELECT CAST(CAST(:query AS TEXT) AS TSQUERY) AS query) AS q "
        "WHERE c.store_id IN :stores AND c.terms @@ q.query"
        + ("" if file_ids is None else " AND c.file_id IN :files")
        + " ORDER BY score DESC, c.id LIMIT :limit"
    )
    params: dict[str, object] = {
        "stores": list(store_ids),
        "query": keywords.tsquery_literal(query),
        "limit": limit,
    }
    statement = _scoped(sql, file_ids, params)
    rows = (await conn.execute(statement, params)).all()
    return [(int(r[0]), float(r[1])) for r in rows]


async def vector_candidates(
    conn: AsyncConnection,
    store_ids: Sequence[str],
    file_ids: Collection[str] | None,
    bits: bytes,
    limit: int,
    dimensions: int,
) -> list[int]:
    """Chunk ids nearest to the query's sign bits by Hamming distance."""
    sql = (
        "SELECT id FROM vector_store_chunks WHERE store_id IN :stores"
        + ("" if file_ids is None else " AND file_id IN :files")
        + " ORDER BY bit_count(embedding_bits # CAST(CAST(:bits AS TEXT) AS BIT VARYING)),"
        " id LIMIT :limit"
    )
    params: dict[str, object] = {
        "stores": list(store_ids),
        "bits": bit_string(bits, dimensions),
        "limit": limit,
    }
    statement = _scoped(sql, file_ids, params)
    return [int(r[0]) for r in (await conn.execute(statement, params)).all()]
