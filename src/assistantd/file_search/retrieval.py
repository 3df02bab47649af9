"""File search end to end, below the HTTP layer: ingest one file, query stores, fit a budget.

Owns the order of the steps (parse → chunk → embed → index in one transaction) and the query
side (embed the query with the store's embedder, search, apply `score_threshold`, trim to a
token budget). The steps themselves live in `parsing`, `chunking`, `embeddings` and `index`.
Failures surface as the typed errors of those modules (`FileParseError` with its `code`,
`EmbeddingError`, `EmbedderMismatchError`) for the caller to record as a file's `last_error`.
It does not touch vector store objects or statuses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.file_search import index
from assistantd.file_search.chunking import AUTO, Chunk, StaticChunking, chunk_text
from assistantd.file_search.embeddings import Embedder
from assistantd.file_search.index.rows import chunk_rows
from assistantd.file_search.parsing import InvalidFileError, parse_file
from assistantd.file_search.writer import FileWrite, Transactional, writer_for
from assistantd.tokens import count_tokens


@dataclass(frozen=True, slots=True)
class IngestResult:
    chunks: int
    tokens: int
    characters: int


def prepare(data: bytes, filename: str, strategy: StaticChunking = AUTO) -> list[Chunk]:
    """Parse and chunk a file (CPU-bound: run it off the event loop)."""
    return chunk_text(parse_file(data, filename), strategy)


async def ingest_file(
    engine: Transactional,
    store_id: str,
    file_id: str,
    data: bytes,
    filename: str,
    *,
    embedder: Embedder,
    strategy: StaticChunking = AUTO,
    attributes: Mapping[str, Any] | None = None,
    after: Callable[[AsyncConnection], Awaitable[None]] | None = None,
) -> IngestResult:
    """Make a file searchable in a store; its chunks appear in one commit, or not at all.

    Files ingested concurrently share commits (see `writer`).
    """
    chunks = await asyncio.to_thread(prepare, data, filename, strategy)
    if not chunks:
        raise InvalidFileError("The file contains no text.")
    vectors = await embedder.embed([c.text for c in chunks])
    rows = await asyncio.to_thread(chunk_rows, chunks, vectors)
    job = FileWrite(store_id, file_id, rows, embedder.name, attributes, after)
    await writer_for(engine).write(job)
    return IngestResult(
        chunks=len(chunks),
        tokens=sum(c.tokens for c in chunks),
        characters=chunks[-1].end if chunks else 0,
    )


async def search_stores(
    conn: AsyncConnection,
    store_ids: Sequence[str],
    query: str,
    *,
    embedder: Embedder,
    k: int = 20,
    filters: Mapping[str, Any] | None = None,
    score_threshold: float = 0.0,
    mode: index.SearchMode = "hybrid",
) -> list[index.Hit]:
    """Search stores for `query`; hits scoring below `score_threshold` are dropped."""
    vector = (await embedder.embed([query]))[0] if mode != "keyword" else None
    hits = await index.search(
        conn,
        store_ids,
        query_text=query,
        query_vector=vector,
        k=k,
        filters=filters,
        mode=mode,
        embedder=embedder.name,
    )
    return [hit for hit in hits if hit.score >= score_threshold]


def fit_to_budget(
    hits: Sequence[index.Hit], max_tokens: int, model: str | None = None
) -> list[index.Hit]:
    """The leading hits whose texts together fit in `max_tokens` (as `model` counts them)."""
    kept: list[index.Hit] = []
    used = 0
    for hit in hits:
        used += count_tokens(hit.text, model)
        if used > max_tokens:
            break
        kept.append(hit)
    return kept
