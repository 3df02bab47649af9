"""Group commit for index writes: files that finish embedding together share one transaction.

Owns the write path from "chunks and vectors are ready" to "committed". Each file still becomes
visible all at once (it is written whole inside one transaction), but a commit, which costs
more than writing a small file's rows on SQLite, is paid once for every file that was queued
while the previous transaction ran. Writes of one engine are queued in-process (SQLite has a
single writer anyway, and a writer that finds the database locked sleeps in growing steps).
If a batch fails, each of its files is retried in a transaction of its own, so one bad file
never fails the others. It does not parse, chunk or embed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.file_search.index import ChunkIndex
from assistantd.file_search.index.rows import ChunkRow

MAX_FILES_PER_TRANSACTION = 64


@dataclass(frozen=True, slots=True)
class FileWrite:
    store_id: str
    file_id: str
    rows: Sequence[ChunkRow]  # made off the event loop (`rows.chunk_rows`)
    embedder: str
    attributes: Mapping[str, Any] | None = None
    after: Callable[[AsyncConnection], Awaitable[None]] | None = None
    """Runs in the same transaction, before the rows are written (e.g. marks the vector store
    file `completed`, or raises to write nothing when the file was deleted meanwhile)."""

    async def apply(self, conn: AsyncConnection, index: ChunkIndex) -> None:
        if self.after is not None:
            await self.after(conn)
        await index.add_rows(
            conn,
            self.store_id,
            self.file_id,
            self.rows,
            embedder=self.embedder,
            attributes=self.attributes,
        )


class Transactional(Protocol):
    """An AsyncEngine, or the server's Database (whose `begin` takes its write lock)."""

    def begin(self) -> AbstractAsyncContextManager[AsyncConnection]: ...


class IndexWriter:
    """Writes files for one database; `write` returns once the file is committed.

    One per database and process (owned by `FileSearchEngine`), so that every file written
    shares its queue."""

    def __init__(self, engine: Transactional, index: ChunkIndex) -> None:
        self._engine = engine
        self._index = index
        self._lock = asyncio.Lock()
        self._pending: list[tuple[FileWrite, asyncio.Future[None]]] = []

    async def write(self, job: FileWrite) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((job, future))
        async with self._lock:
            # Whoever holds the lock writes everything queued so far, possibly our file too.
            if not future.done():
                batch = self._pending[:MAX_FILES_PER_TRANSACTION]
                del self._pending[:MAX_FILES_PER_TRANSACTION]
                await self._flush(batch)
        await future

    async def _flush(self, batch: list[tuple[FileWrite, asyncio.Future[None]]]) -> None:
        try:
            async with self._engine.begin() as conn:
                for job, _ in batch:
                    await job.apply(conn, self._index)
        except Exception as exc:
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
                return
            for item in batch:
                await self._flush([item])  # alone, so only the bad file fails
            return
        for _, future in batch:
            future.set_result(None)
