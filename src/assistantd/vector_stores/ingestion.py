"""Background ingestion of vector store files: parse → chunk → embed → index, then `completed`
(in the same transaction as the chunks, so a file is never searchable while `in_progress`), or
`failed` with `last_error`. A file deleted (or its store, or the File) while it is ingested
stays deleted: its chunks are never written. A file is submitted by the transaction that
attached it, once that has committed; files left `in_progress` by a stopped server are picked
up again on start. A cancelled batch stops its files that have not finished.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db.engine import Database, background
from assistantd.file_search.chunking import ChunkingStrategyError, strategy_from_request
from assistantd.file_search.embeddings import EmbeddingError, LimitedEmbedder
from assistantd.file_search.engine import FileSearchEngine
from assistantd.file_search.index import EmbedderMismatchError
from assistantd.file_search.parsing import FileParseError
from assistantd.files import store as files_store
from assistantd.files.blobs import BlobStore
from assistantd.observability import Metrics
from assistantd.vector_stores import store
from assistantd.vector_stores.schemas import FileLastError
from assistantd.vector_stores.state import advance_file

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Job:
    project: str
    store_id: str
    file_id: str
    batch_id: str | None = None


# Files in flight, and embedding requests under way at once: several files per request slot,
# so one file's parsing and index write overlap the others' embedding (see `LimitedEmbedder`).
FILE_SLOTS = 32
EMBEDDING_SLOTS = 8


class FileDetached(Exception):
    """The file left the store while it was being ingested: its chunks are not written."""


class Ingestor:
    def __init__(
        self,
        db: Database,
        blobs: BlobStore,
        search: FileSearchEngine,
        *,
        files: int = FILE_SLOTS,
        embedding_requests: int = EMBEDDING_SLOTS,
        metrics: Metrics | None = None,
    ) -> None:
        self._db = db
        self._metrics = metrics
        self._blobs = blobs
        self._search = search
        # Only ingestion waits for these slots: queries use the engine's embedder directly.
        self._ingestion_embedder = LimitedEmbedder(search.embedder, embedding_requests)
        self._slots = asyncio.Semaphore(files)
        self._tasks: dict[tuple[str, str], tuple[Job, asyncio.Task[None]]] = {}

    def submit(self, job: Job) -> None:
        key = (job.store_id, job.file_id)
        if key in self._tasks:
            return
        task = asyncio.create_task(self._run(job), name=f"ingest:{job.store_id}:{job.file_id}")
        self._tasks[key] = (job, task)
        task.add_done_callback(lambda _: self._tasks.pop(key, None))

    def queued(self) -> int:
        """Files being ingested or waiting for a slot (for the metrics)."""
        return len(self._tasks)

    def cancel_batch(self, batch_id: str) -> None:
        for job, task in list(self._tasks.values()):
            if job.batch_id == batch_id:
                task.cancel()

    async def start(self) -> None:
        """Boot-time recovery: pick up the files a stopped server left `in_progress`. Files
        attached while the server runs are submitted by the transaction that attached them,
        once it has committed (assistantd.effects)."""
        await self.sweep()

    async def sweep(self) -> None:
        async with self._db.read() as conn:
            pending = await store.files_with_status(conn, "in_progress")
        for project, file in pending:
            self.submit(Job(project, file.vector_store_id, file.id))

    async def stop(self) -> None:
        tasks = [task for _, task in self._tasks.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_idle(self) -> None:
        """Wait until every submitted file is done (tests and benchmarks)."""
        while self._tasks:
            await asyncio.gather(
                *[task for _, task in self._tasks.values()], return_exceptions=True
            )

    async def _run(self, job: Job) -> None:
        with background():
            await self._run_job(job)

    async def _run_job(self, job: Job) -> None:
        async with self._slots:
            try:
                size = await self._ingest(job)
                if self._metrics is not None and size is not None:
                    self._metrics.ingested_files.labels("completed").inc()
                    self._metrics.ingested_bytes.inc(size)
            except asyncio.CancelledError:
                raise
            except FileDetached:
                log.info("%s left %s while it was ingested", job.file_id, job.store_id)
            except FileParseError as error:
                await self._fail(job, error.code, str(error))
            except (EmbeddingError, EmbedderMismatchError, ChunkingStrategyError) as error:
                await self._fail(job, "server_error", str(error))
            except Exception:
                log.exception("ingesting %s into %s failed", job.file_id, job.store_id)
                await self._fail(job, "server_error", "The file could not be processed.")

    async def _ingest(self, job: Job) -> int | None:
        """Ingest the job's file; its size, or None when there was nothing to do."""
        async with self._db.read() as conn:
            file = await files_store.get(conn, job.project, job.file_id)
            vs_file = await store.get_file(conn, job.project, job.store_id, job.file_id)
        if file is None or vs_file is None or vs_file.status != "in_progress":
            return None
        raw_strategy: Any = (
            vs_file.chunking_strategy.model_dump() if vs_file.chunking_strategy else None
        )
        data = await self._blobs.read(job.file_id)

        async def mark_completed(conn: AsyncConnection) -> None:
            # Runs before the chunks are written, with the row locked: a file detached (or its
            # store or File deleted, or its batch cancelled) meanwhile gets nothing written.
            if not await store.complete_file(
                conn, job.project, job.store_id, job.file_id, file.bytes
            ):
                raise FileDetached

        await self._search.ingest_file(
            job.store_id,
            job.file_id,
            data,
            file.filename,
            embedder=self._ingestion_embedder,
            strategy=strategy_from_request(raw_strategy),
            attributes=vs_file.attributes,
            after=mark_completed,
        )
        return file.bytes

    async def _fail(self, job: Job, code: str, message: str) -> None:
        if self._metrics is not None:
            self._metrics.ingested_files.labels("failed").inc()
        async with self._db.write() as conn:
            current = await store.get_file(conn, job.project, job.store_id, job.file_id)
            if current is None or current.status != "in_progress":
                return
            failed = advance_file(
                current, "failed", last_error=FileLastError(code=code, message=message)
            )
            await store.upsert_file(conn, job.project, failed)
