"""The PostgreSQL half of the chunk index: keyword postings for keywords, pgvector for vectors.

Owns the dialect-specific SQL only; the shared logic is in the package `__init__`. Keyword
search reads the per-file, per-term postings rows (migration 0430) and ranks by BM25 as SQLite's
FTS5 does (`postings` packs and scores them); the terms are `keywords` terms, so PostgreSQL's
own text-search parser and its locale never decide what a Japanese word is. Chunk rows still
carry their `terms` tsvector (GIN-indexed, built as a literal), which a downgrade of 0430
searches again.

Vectors take one of two paths, chosen per database (by `ChunkIndex`) by whether migration 0102
could make the `vector_store_chunk_vectors` table (it does when pgvector 0.8+ is installed or
installable):

* pgvector: one row per chunk (same id; deleted with it by a cascading foreign key) holding its
  store, file and `embedding vector`, without fixed dimensions since each store's embedder may
  differ. A table of its own, stored in the row rather than in TOAST, so an exact scan reads
  2 KB per chunk and nothing else, while the chunks table, which keyword search reads, stays as
  narrow as without pgvector (inline there, 100k chunks took 260 MB instead of 110). One partial
  HNSW index per dimension count (inner product: vectors are unit length) on the vectors in
  half precision, `embedding::halfvec(n) WHERE vector_dims(embedding) = n` (migration 0450: half
  the pages of a `vector(n)` index, 130 MB instead of 260 at 100k chunks of 512 dimensions, and
  a search reads thousands of them, mostly from outside PostgreSQL's 128 MB of shared buffers),
  made by the migrations for the dimensions already stored and here, in the writing
  transaction, the first time a store of new dimensions is written (it then covers no rows, so
  it is quick). Searches scope to stores and
  files with a WHERE clause, so they run with `hnsw.iterative_scan = relaxed_order` (the index
  keeps scanning until enough rows pass the filter) and are re-sorted here. Each is planned for
  its own values (`plan_cache_mode = force_custom_plan`), so the planner picks the (store_id,
  file_id) index and an exact sort when the scope is small; if the HNSW scan still ends short of
  the limit (it gives up after `hnsw.max_scan_tuples`), the query is repeated as an exact scan.
  Above 4,000 dimensions (HNSW's limit for halfvec) there is no index and every search is
  exact. Scores are exact inner products of the float32 vectors; the index scan returns twice
  the rows asked for by half-precision distance and the exact scores pick the best. Which rows
  come back is HNSW's approximation, with `hnsw.ef_search` as long as the fallback's
  pre-selection (400 at least): on the benchmark's vectors (10k) the top 20 are the exact ones
  for queries near the data, and 97% of them for random queries (the fallback: 60%); at 100k,
  recall@20 0.975 near the data and 0.535 for random queries (the `vector(n)` index: 0.950 and
  0.509).
* fallback (BIT VARYING), for a PostgreSQL without pgvector: the `candidates` nearest by
  Hamming distance on the sign bits, re-scored exactly in numpy, as on SQLite.

Chunk rows always carry the sign bits and the float32 bytes too, so a downgrade of 0102 leaves
a working fallback index.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Row, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.file_search import keywords
from assistantd.file_search.index import postings
from assistantd.file_search.index.rows import (
    ChunkRow,
    bit_string,
    decode_embeddings,
    sign_bits,
)

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

VectorPath = Literal["pgvector", "bits"]
HNSW_MAX_DIMENSIONS = 4000  # pgvector's limit for an HNSW index on halfvec
MAX_EF_SEARCH = 1000  # pgvector's upper bound for hnsw.ef_search

_INSERT_CHUNK = """INSERT INTO vector_store_chunks (store_id, file_id, chunk_index, start_offset,
        end_offset, tokens, embedding_bits, embedding, terms, text)
    VALUES (:store_id, :file_id, :chunk_index, :start, :end, :tokens,
        CAST(CAST(:bits AS TEXT) AS BIT VARYING), :embedding,
        CAST(CAST(:terms AS TEXT) AS TSVECTOR), :text)"""

# The chunk and its vector in one statement (the vector row needs the chunk's new id).
_INSERT_CHUNK_AND_VECTOR = f"""WITH chunk AS ({_INSERT_CHUNK} RETURNING id)
    INSERT INTO vector_store_chunk_vectors (id, store_id, file_id, embedding)
    SELECT id, :store_id, :file_id, CAST(CAST(:vector AS REAL[]) AS vector) FROM chunk"""

# Same name and shape as the indexes migration 0450 makes for dimensions already stored.
_HNSW_INDEX = """CREATE INDEX IF NOT EXISTS ix_vector_store_chunk_vectors_half_{n}
    ON vector_store_chunk_vectors USING hnsw ((embedding::halfvec({n})) halfvec_ip_ops)
    WHERE vector_dims(embedding) = {n}"""


async def vector_path(conn: AsyncConnection) -> VectorPath:
    """Which vector search the database has: "pgvector" when migration 0102 made the vector
    table, else "bits" (the fallback). `ChunkIndex` looks it up once and keeps it."""
    table = await conn.execute(text("SELECT to_regclass('vector_store_chunk_vectors')"))
    return "bits" if table.scalar() is None else "pgvector"


async def _ensure_hnsw_index(conn: AsyncConnection, dimensions: int) -> None:
    """The HNSW index for vectors of `dimensions`, created inside the caller's transaction."""
    name = f"ix_vector_store_chunk_vectors_half_{dimensions}"
    if dimensions > HNSW_MAX_DIMENSIONS:
        return
    if (await conn.execute(text("SELECT to_regclass(:n)"), {"n": name})).scalar() is not None:
        return
    # Writers of the same new dimensions wait here for the first one's index, not fail on it.
    await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:n))"), {"n": name})
    await conn.execute(text(_HNSW_INDEX.format(n=dimensions)))


async def insert_chunks(
    conn: AsyncConnection,
    store_id: str,
    file_id: str,
    rows: Sequence[ChunkRow],
    *,
    pgvector: bool,
) -> None:
    """Insert a file's chunks; with `pgvector`, their rows of the vector table too."""
    if not rows:
        return
    if pgvector:
        await _ensure_hnsw_index(conn, len(rows[0].embedding) // 4)
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
        | ({"vector": decode_embeddings([row.embedding])[0].tolist()} if pgvector else {})
        for row in rows
    ]
    await conn.execute(text(_INSERT_CHUNK_AND_VECTOR if pgvector else _INSERT_CHUNK), params)
    await _insert_postings(conn, store_id, file_id, rows)


async def delete_chunks(conn: AsyncConnection, store_id: str, file_id: str | None) -> int:
    """Delete a file's chunks (or, with file_id None, a whole store's); returns how many."""
    scope = "store_id = :store_id" + ("" if file_id is None else " AND file_id = :file_id")
    params = {"store_id": store_id, "file_id": file_id} if file_id else {"store_id": store_id}
    await conn.execute(text(f"DELETE FROM vector_store_keyword_postings WHERE {scope}"), params)
    result = await conn.execute(text(f"DELETE FROM vector_store_chunks WHERE {scope}"), params)
    return int(result.rowcount)


async def _rows(
    conn: AsyncConnection, sql: str, params: dict[str, object], file_ids: Collection[str] | None
) -> Sequence[Row[*tuple[Any, ...]]]:
    """Run `sql`, with `:stores` (and `:files`, when `file_ids` is given) as expanding lists."""
    statement = text(sql).bindparams(bindparam("stores", expanding=True))
    if file_ids is not None:
        statement = statement.bindparams(bindparam("files", expanding=True))
        params["files"] = list(file_ids)
    return (await conn.execute(statement, params)).all()


@asynccontextmanager
async def _planner(conn: AsyncConnection, **settings: str) -> AsyncIterator[None]:
    """Planner settings for the queries inside, local to the transaction and put back after,
    so they never reach the caller's other queries."""
    names = {f"n{i}": name for i, name in enumerate(settings)}
    values = {f"v{i}": value for i, value in enumerate(settings.values())}
    read = ", ".join(f"current_setting(:{n}, true) AS {n}" for n in names)
    write = ", ".join(f"set_config(:{n}, :{v}, true)" for n, v in zip(names, values, strict=True))
    # The subquery (OFFSET 0) reads the previous values before any is set.
    previous = (
        await conn.execute(
            text(f"SELECT previous.*, {write} FROM (SELECT {read} OFFSET 0) AS previous"),
            names | values,
        )
    ).one()
    yield
    # Not after an error: the transaction is aborted then, and its rollback drops them anyway.
    put_back = dict(zip(values, previous[: len(names)], strict=True))
    await conn.execute(text(f"SELECT {write}"), names | put_back)


_INSERT_POSTING = """INSERT INTO vector_store_keyword_postings
        (store_id, file_id, term, chunks, occurrences, postings)
    VALUES (:store_id, :file_id, :term, :chunks, :occurrences, :postings)"""


async def _insert_postings(
    conn: AsyncConnection, store_id: str, file_id: str, rows: Sequence[ChunkRow]
) -> None:
    """The file's keyword postings (see `postings`), from its chunks just inserted."""
    ids = await conn.execute(
        text(
            "SELECT chunk_index, id FROM vector_store_chunks "
            "WHERE store_id = :store_id AND file_id = :file_id"
        ),
        {"store_id": store_id, "file_id": file_id},
    )
    chunk_ids = {int(index): int(chunk_id) for index, chunk_id in ids}
    packed = postings.file_postings([(chunk_ids[row.index], row.terms) for row in rows])
    await conn.execute(text(_INSERT_POSTING), postings.insert_params(store_id, file_id, packed))


async def _term_statistics(
    conn: AsyncConnection, store_ids: Sequence[str], exact: list[str]
) -> tuple[int, int, dict[str, int]]:
    """(chunks in the stores, their summed lengths, chunks holding each of the `exact` terms),
    from the postings rows' counts (one statement, so one snapshot)."""
    statement = text(
        "SELECT term, sum(chunks), sum(occurrences) FROM vector_store_keyword_postings "
        "WHERE store_id IN :stores AND term IN :terms GROUP BY term"
    ).bindparams(bindparam("stores", expanding=True), bindparam("terms", expanding=True))
    found = await conn.execute(
        statement, {"stores": list(store_ids), "terms": [postings.ALL_CHUNKS, *exact]}
    )
    counts = {str(term): (int(chunks), int(occurrences)) for term, chunks, occurrences in found}
    total, length = counts.pop(postings.ALL_CHUNKS, (0, 0))
    return total, length, {term: chunks for term, (chunks, _) in counts.items()}


async def _term_postings(
    conn: AsyncConnection,
    store_ids: Sequence[str],
    file_ids: Collection[str] | None,
    term: str,
) -> npt.NDArray[np.void]:
    """The postings of a term in the stores (and files), or for a prefix term, those of every
    term it begins (a range: `term` is in the C collation, ordered by code point)."""
    if keywords.is_prefix(term):
        condition, params = "term >= :low AND term < :high", {"low": term, "high": _next(term)}
    else:
        condition, params = "term = :term", {"term": term}
    files = "" if file_ids is None else " AND file_id IN :files"
    sql = (
        "SELECT string_agg(postings, ''::bytea) FROM vector_store_keyword_postings "
        f"WHERE store_id IN :stores AND {condition}{files}"
    )
    [row] = await _rows(conn, sql, {"stores": list(store_ids), **params}, file_ids)
    return postings.unpack(row[0])


def _next(prefix: str) -> str:
    """The first string after every string that starts with the one-character `prefix`."""
    return chr(ord(prefix) + 1)


async def keyword_ranked(
    conn: AsyncConnection,
    store_ids: Sequence[str],
    file_ids: Collection[str] | None,
    query: list[str],
    limit: int,
) -> list[tuple[int, float]]:
    """(chunk id, BM25 as SQLite's FTS5 computes it, higher is better) of the best `limit`
    chunks with any query term, scored from the terms' postings (see `postings`)."""
    import numpy as np

    exact = [t for t in query if not keywords.is_prefix(t)]
    total, length, counts = await _term_statistics(conn, store_ids, exact)
    if not total:
        return []
    prefixed: dict[str, npt.NDArray[np.void]] = {}
    for term in query:
        if keywords.is_prefix(term):
            # A prefix term's chunks are counted over the stores, as an exact term's are.
            merged = postings.prefix_postings(await _term_postings(conn, store_ids, None, term))
            prefixed[term], counts[term] = merged, len(merged)
    # As on SQLite: terms in more than half the chunks (idf floored) only widen the candidates.
    present = [t for t in query if counts.get(t, 0) > 0]
    selective = [t for t in present if keywords.is_prefix(t) or counts[t] <= total / 2]
    scored: list[tuple[float, npt.NDArray[np.void]]] = []
    for term in selective or present:
        if term in prefixed:
            found = prefixed[term]
            if file_ids is not None:
                every = await _term_postings(conn, store_ids, file_ids, postings.ALL_CHUNKS)
                found = found[np.isin(found["id"], every["id"])]
        else:
            found = await _term_postings(conn, store_ids, file_ids, term)
        scored.append((postings.idf(total, counts[term]), found))
    return postings.bm25_top(scored, length / total, limit)


async def vector_ranked(
    conn: AsyncConnection,
    store_ids: Sequence[str],
    file_ids: Collection[str] | None,
    query: npt.NDArray[np.float32],
    candidates: int,
    depth: int,
    *,
    pgvector: bool,
) -> list[tuple[int, float]]:
    """(chunk id, cosine similarity), best first, `depth` at most."""
    if pgvector:
        return await _pgvector_ranked(conn, store_ids, file_ids, query, candidates, depth)
    return await _bits_ranked(conn, store_ids, file_ids, query, candidates, depth)


# Ordered by {order}: the half-precision distance of the dimension's HNSW index (its expression),
# or the exact distance (an exact scan). The distance returned is always the exact one.
_NEAREST = """
SELECT id, embedding <#> CAST(CAST(:query AS REAL[]) AS vector) AS distance
FROM vector_store_chunk_vectors
WHERE vector_dims(embedding) = {n} AND store_id IN :stores{files}
ORDER BY {order} LIMIT :limit
"""
_HALF_DISTANCE = "embedding::halfvec({n}) <#> CAST(CAST(:query AS REAL[]) AS halfvec({n}))"
# The index scan returns this many times the rows asked for, so that ranking them by their exact
# distances cannot miss one that half precision ranked a little too low.
HALF_OVERSAMPLING = 2


# A custom plan for every vector query: a generic one would convert the query vector once per
# row of an exact scan, and could not weigh the index against the scope's real size. Only
# for these queries: custom plans made the keyword queries of the same transaction 2.5x slower
# (100k chunks), so the previous settings are put back.
def _vector_planner(ef_search: int) -> dict[str, str]:
    return {
        "hnsw.ef_search": str(ef_search),
        "hnsw.iterative_scan": "relaxed_order",
        "plan_cache_mode": "force_custom_plan",
    }


async def _pgvector_ranked(
    conn: AsyncConnection,
    store_ids: Sequence[str],
    file_ids: Collection[str] | None,
    query: npt.NDArray[np.float32],
    candidates: int,
    depth: int,
) -> list[tuple[int, float]]:
    """The nearest by inner product (cosine: all vectors are unit length), through HNSW whose
    candidate list (`hnsw.ef_search`) is as long as the fallback's pre-selection."""
    files = "" if file_ids is None else " AND file_id IN :files"
    n = len(query)
    # Through the index; exact if that ran short (or there is no index for n).
    attempts = [("distance", depth)]
    if n <= HNSW_MAX_DIMENSIONS:
        attempts.insert(0, (_HALF_DISTANCE.format(n=n), HALF_OVERSAMPLING * depth))
    ranked: list[tuple[float, int]] = []
    async with _planner(conn, **_vector_planner(min(MAX_EF_SEARCH, candidates))):
        for order, limit in attempts:
            sql = _NEAREST.format(order=order, n=n, files=files)
            params: dict[str, object] = {
                "stores": list(store_ids),
                "query": query.tolist(),
                "limit": limit,
            }
            rows = await _rows(conn, sql, params, file_ids)
            ranked = [(float(distance), int(chunk_id)) for chunk_id, distance in rows]
            if len(ranked) >= depth:
                break
    ranked.sort()  # relaxed_order returns rows nearly, not exactly, in order
    return [(chunk_id, -distance) for distance, chunk_id in ranked[:depth]]


async def _bits_ranked(
    conn: AsyncConnection,
    store_ids: Sequence[str],
    file_ids: Collection[str] | None,
    query: npt.NDArray[np.float32],
    candidates: int,
    depth: int,
) -> list[tuple[int, float]]:
    """The `candidates` nearest by Hamming distance on the sign bits, re-scored in numpy."""
    import numpy as np

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
    ids = [int(r[0]) for r in await _rows(conn, sql, params, file_ids)]
    if not ids:
        return []
    fetch = text("SELECT id, embedding FROM vector_store_chunks WHERE id IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    rows = (await conn.execute(fetch, {"ids": ids})).all()
    similarity = decode_embeddings([bytes(r[1]) for r in rows]) @ query
    order = np.argsort(-similarity, kind="stable")[:depth]
    return [(int(rows[i][0]), float(similarity[i])) for i in order]
