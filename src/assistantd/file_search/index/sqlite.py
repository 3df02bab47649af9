"""The SQLite half of the chunk index's writes: chunk rows, their FTS5 terms and the file's
keyword postings (`postings`, keyed by FTS5's own tokens: `fts5_terms`).

Owns the dialect-specific SQL of inserts and deletes; searching is in `sqlite_search`, the
shared logic in the package `__init__`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import (
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    insert,
    text,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.file_search.index import fts5_terms, postings
from assistantd.file_search.index.rows import ChunkRow
from assistantd.file_search.index.sqlite_search import store_token

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
_INSERT_POSTING = text(
    "INSERT INTO vector_store_keyword_postings "
    "(store_id, file_id, term, chunks, occurrences, postings) "
    "VALUES (:store_id, :file_id, :term, :chunks, :occurrences, :postings)"
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
    store = store_token(store_id)
    fts_rows = [
        {"id": chunk_id, "terms": " ".join(row.terms), "store": store}
        for chunk_id, row in zip(ids, rows, strict=True)
    ]
    await conn.execute(_INSERT_FTS, fts_rows)
    packed = postings.file_postings(
        [
            (chunk_id, fts5_terms.chunk_tokens(row.terms))
            for chunk_id, row in zip(ids, rows, strict=True)
        ]
    )
    await conn.execute(_INSERT_POSTING, postings.insert_params(store_id, file_id, packed))


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
    await conn.execute(text(f"DELETE FROM vector_store_keyword_postings WHERE {scope}"), params)
    result = await conn.execute(text(f"DELETE FROM vector_store_chunks WHERE {scope}"), params)
    return int(result.rowcount)
