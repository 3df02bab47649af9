"""The PostgreSQL half of the chunk index: tsvector + GIN for keywords, BIT VARYING Hamming.

Owns the dialect-specific SQL only; the shared logic is in the package `__init__`. The tsvector
and tsquery are built from `keywords` terms as literals (cast from text), so PostgreSQL's own
text-search parser and its locale never decide what a Japanese word is. pgvector is not used
yet: Debian 12 ships no postgresql-15-pgvector, and exact re-scoring of a Hamming pre-selection
keeps both databases on the same algorithm.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import numpy as np
import numpy.typing as npt
from sqlalchemy import TextClause, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.vector_stores import keywords
from assistantd.vector_stores.index.rows import (
    ChunkRow,
    bit_string,
    decode_embeddings,
    sign_bits,
)

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


def _scoped(sql: str, file_ids: Collection[str] | None, params: dict[str, object]) -> TextClause:
    statement = text(sql).bindparams(bindparam("stores", expanding=True))
    if file_ids is not None:
        statement = statement.bindparams(bindparam("files", expanding=True))
        params["files"] = list(file_ids)
    return statement


# Keyword ranking close to SQLite FTS5's BM25: each query term contributes its BM25 idf,
# ln((N - n + 0.5) / (n + 0.5)) floored at 1e-6, times PostgreSQL's ts_rank of the chunk for that
# term alone, which saturates with the term's frequency as BM25's tf part does (and divides by
# 1 + log(length) with normalization 1). Plain ts_rank has no idf: rare terms would weigh no
# more than common ones. Everything is computed by PostgreSQL's C functions, per matching row.
_RANKED = """
SELECT id, {score} AS score FROM vector_store_chunks
WHERE store_id IN :stores AND terms @@ CAST(CAST(:match AS TEXT) AS TSQUERY){files}
ORDER BY score DESC, id LIMIT :limit
"""


async def _term_statistics(
    conn: AsyncConnection, store_ids: Sequence[str], query: list[str]
) -> tuple[int, list[int]]:
    """(chunks in the stores, chunks containing each term), counted through the GIN index."""
    scope = "FROM vector_store_chunks WHERE store_id IN :stores"
    counts = ", ".join(
        f"(SELECT count(*) {scope} AND terms @@ CAST(CAST(:t{i} AS TEXT) AS TSQUERY))"
        for i in range(len(query))
    )
    params: dict[str, object] = {"stores": list(store_ids)}
    params.update({f"t{i}": keywords.tsquery_literal([t]) for i, t in enumerate(query)})
    statement = text(f"SELECT (SELECT count(*) {scope}), {counts}").bindparams(
        bindparam("stores", expanding=True)
    )
    row = (await conn.execute(statement, params)).one()
    return int(row[0]), [int(n) for n in row[1:]]


async def keyword_ranked(
    conn: AsyncConnection,
    store_ids: Sequence[str],
    file_ids: Collection[str] | None,
    query: list[str],
    limit: int,
) -> list[tuple[int, float]]:
    """(chunk id, idf-weighted ts_rank, higher is better) for chunks matching any term."""
    total, frequencies = await _term_statistics(conn, store_ids, query)
    present = [(t, n) for t, n in zip(query, frequencies, strict=True) if n > 0]
    # As on SQLite: terms in more than half the chunks (idf floored) only widen the candidates.
    present = [(t, n) for t, n in present if n <= total / 2 or keywords.is_prefix(t)] or present
    if not present:
        return []
    score = " + ".join(
        f"ts_rank(terms, CAST(CAST(:q{i} AS TEXT) AS TSQUERY), 1) * :idf{i}"
        for i in range(len(present))
    )
    params: dict[str, object] = {
        "stores": list(store_ids),
        "match": keywords.tsquery_literal([t for t, _ in present]),
        "limit": limit,
    }
    for i, (term, n) in enumerate(present):
        params[f"q{i}"] = keywords.tsquery_literal([term])
        params[f"idf{i}"] = max(math.log((total - n + 0.5) / (n + 0.5)), 1e-6)
    sql = _RANKED.format(score=score, files="" if file_ids is None else " AND file_id IN :files")
    statement = _scoped(sql, file_ids, params)
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
    on the sign bits, re-scored exactly in numpy."""
    sql = (
        "SELECT id FROM vector_store_chunks WHERE store_id IN :stores"
        + ("" if file_ids is None else " AND file_id IN :files")
        + " ORDER BY bit_count(embedding_bits # CAST(CAST(:bits AS TEXT) AS BIT VARYING)),"
        " id LIMIT :limit"
    )
    params: dict[str, object] = {
        "stores": list(store_ids),
        "bits": bit_string(sign_bits(query), len(query)),
        "limit": candidates,
    }
    statement = _scoped(sql, file_ids, params)
    ids = [int(r[0]) for r in (await conn.execute(statement, params)).all()]
    if not ids:
        return []
    fetch = text("SELECT id, embedding FROM vector_store_chunks WHERE id IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    rows = (await conn.execute(fetch, {"ids": ids})).all()
    similarity = decode_embeddings([bytes(r[1]) for r in rows]) @ query
    order = np.argsort(-similarity, kind="stable")[:depth]
    return [(int(rows[i][0]), float(similarity[i])) for i in order]
