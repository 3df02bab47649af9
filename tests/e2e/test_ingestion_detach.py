"""A file detached from a vector store while it is being ingested stays detached: the ingestion
writes neither its chunks nor a `completed` row back (it used to resurrect the file)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from assistantd import ids
from assistantd.db.engine import Database
from assistantd.db.migrate import upgrade_async
from assistantd.file_search.engine import FileSearchEngine
from assistantd.file_search.sqlite_extensions import (
    install_sqlite_extensions,
    register_sqlite_extensions,
)
from assistantd.files import store as files_store
from assistantd.files.blobs import LocalBlobStore
from assistantd.files.schemas import FileObject
from assistantd.vector_stores import service as vector_stores
from assistantd.vector_stores import store as vs_store
from assistantd.vector_stores.ingestion import Ingestor, Job
from assistantd.vector_stores.schemas import CreateVectorStoreRequest
from tests.support.embedders import HashingEmbedder


class DetachingEmbedder(HashingEmbedder):
    """Detaches the file from its store while its chunks are being embedded."""

    def __init__(self, db: Database, store_id: str, file_id: str) -> None:
        super().__init__(64)
        self.db, self.store_id, self.file_id = db, store_id, file_id

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        async with self.db.write() as conn:
            await vector_stores.delete_file(conn, "p", self.store_id, self.file_id)
        return await super().embed(texts)


async def test_detached_during_ingestion_stays_detached(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    await upgrade_async(url)
    register_sqlite_extensions()
    db = Database(url)
    install_sqlite_extensions(db.engine)
    blobs = LocalBlobStore(tmp_path / "files")
    file_id = ids.new_id(ids.FILE)
    size = await blobs.put_bytes(file_id, b"Green tea is made from unoxidised leaves.")
    file = FileObject(
        id=file_id, bytes=size, created_at=0, filename="tea.txt", purpose="assistants"
    )
    search: FileSearchEngine | None = None
    try:
        async with db.write() as conn:
            await files_store.insert(conn, "p", file, blob_key=file_id)
            made = await vector_stores.create_store(
                conn, "p", CreateVectorStoreRequest(file_ids=[file_id])
            )
        search = FileSearchEngine(db, DetachingEmbedder(db, made.id, file_id))
        ingestor = Ingestor(db, blobs, search)
        ingestor.submit(Job("p", made.id, file_id))
        await ingestor.wait_idle()
        async with db.read() as conn:
            assert await vs_store.get_file(conn, "p", made.id, file_id) is None
            counts, _ = await vs_store.file_counts(conn, made.id)
        assert counts.total == 0
    finally:
        if search is not None:
            await search.aclose()
        await db.dispose()
