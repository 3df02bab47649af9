"""The file search engine: one object per process, built in the app's lifespan.

Owns what indexing and searching keep between calls: the embedder (and, for an upstream one,
its HTTP client, closed by `aclose`), the chunk index of the database (`ChunkIndex`: the SQLite
searcher and its caches, or which PostgreSQL vector path the database has) and the index writer
whose queue every ingested file shares. Its methods are the whole of file search as the rest of
the server sees it: `ingest_file` (parse → chunk → embed → index, in one transaction),
`search_stores` (one query) and `query` (the model's or a client's several queries, merged,
with the files' names), which the `file_search` tool of runs and of responses and
`POST /vector_stores/{id}/search` all use. It does not touch vector store objects or statuses.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.file_search import index
from assistantd.file_search.chunking import AUTO, StaticChunking
from assistantd.file_search.embeddings import Embedder
from assistantd.file_search.index.rows import chunk_rows
from assistantd.file_search.parsing import InvalidFileError
from assistantd.file_search.retrieval import IngestResult, best_per_chunk, fit_to_budget, prepare
from assistantd.file_search.writer import FileWrite, IndexWriter, Transactional
from assistantd.files import store as files_store


@dataclass(frozen=True, slots=True)
class Found:
    """A hit of `FileSearchEngine.query`, with the name of its file ("" if it is gone)."""

    hit: index.Hit
    filename: str


class FileSearchEngine:
    def __init__(self, db: Transactional, embedder: Embedder) -> None:
        self.embedder = embedder
        self.index = index.ChunkIndex()
        self.writer = IndexWriter(db, self.index)

    async def aclose(self) -> None:
        """Close the index's own connections and the embedder's HTTP client, if it has one."""
        self.index.close()
        close = getattr(self.embedder, "aclose", None)
        if close is not None:
            await close()

    async def ingest_file(
        self,
        store_id: str,
        file_id: str,
        data: bytes,
        filename: str,
        *,
        embedder: Embedder | None = None,
        strategy: StaticChunking = AUTO,
        attributes: Mapping[str, Any] | None = None,
        after: Callable[[AsyncConnection], Awaitable[None]] | None = None,
    ) -> IngestResult:
        """Make a file searchable in a store; its chunks appear in one commit, or not at all.

        Files ingested concurrently share commits (see `writer`). `embedder` defaults to the
        engine's (ingestion passes it with its concurrency limit).
        """
        embedder = embedder or self.embedder
        chunks = await asyncio.to_thread(prepare, data, filename, strategy)
        if not chunks:
            raise InvalidFileError("The file contains no text.")
        vectors = await embedder.embed([c.text for c in chunks])
        rows = await asyncio.to_thread(chunk_rows, chunks, vectors)
        await self.writer.write(
            FileWrite(store_id, file_id, rows, embedder.name, attributes, after)
        )
        return IngestResult(
            chunks=len(chunks),
            tokens=sum(c.tokens for c in chunks),
            characters=chunks[-1].end if chunks else 0,
        )

    async def search_stores(
        self,
        conn: AsyncConnection,
        store_ids: Sequence[str],
        query: str,
        *,
        embedder: Embedder | None = None,
        k: int = 20,
        filters: Mapping[str, Any] | None = None,
        score_threshold: float = 0.0,
        mode: index.SearchMode = "hybrid",
    ) -> list[index.Hit]:
        """Search stores for `query`; hits scoring below `score_threshold` are dropped."""
        embedder = embedder or self.embedder
        vector = (await embedder.embed([query]))[0] if mode != "keyword" else None
        hits = await self.index.search(
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

    async def query(
        self,
        conn: AsyncConnection,
        project: str,
        store_ids: Sequence[str],
        queries: Sequence[str],
        *,
        k: int,
        filters: Mapping[str, Any] | None = None,
        score_threshold: float = 0.0,
        token_budget: int | None = None,
        model: str | None = None,
        trace: Callable[[], AbstractContextManager[Any]] = nullcontext,
    ) -> list[Found]:
        """Each query searched (inside `trace()`), then the best `k` chunks over all of them,
        each once with its best score; with `token_budget`, only the leading ones whose texts
        fit in it (as `model` counts them). Each comes with its file's name in `project`."""
        hits: list[index.Hit] = []
        for text in queries:
            with trace():
                hits += await self.search_stores(
                    conn, store_ids, text, k=k, filters=filters, score_threshold=score_threshold
                )
        chosen = best_per_chunk(hits, k)
        if token_budget is not None:
            chosen = fit_to_budget(chosen, token_budget, model)
        files = await files_store.get_many(conn, project, sorted({h.file_id for h in chosen}))
        names = {file.id: file.filename for file in files}
        return [Found(hit, names.get(hit.file_id, "")) for hit in chosen]
