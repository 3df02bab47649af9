"""Rules for vector stores, their files and batches, and search.

Mutations return the ingestion jobs they start; the caller submits them once the transaction
has committed. A store's `file_counts`, `usage_bytes` and `status` are computed from its files
when read, so they always add up.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd import ids
from assistantd.clock import unix_now
from assistantd.effects import outbox
from assistantd.errors import InvalidRequestError, NotFoundError
from assistantd.file_search import index, keywords
from assistantd.file_search.chunking import ChunkingStrategyError, strategy_of
from assistantd.file_search.engine import FileSearchEngine
from assistantd.file_search.parsing import FileParseError, parse_file
from assistantd.files import references
from assistantd.files import store as files_store
from assistantd.files.blobs import BlobStore
from assistantd.pagination import PageParams
from assistantd.schemas import ChunkingStrategyParam, DeletedObject, Page
from assistantd.vector_stores import state as ingestion_state
from assistantd.vector_stores import store
from assistantd.vector_stores.ingestion import Job
from assistantd.vector_stores.schemas import (
    CreateFileBatchRequest,
    CreateVectorStoreFileRequest,
    CreateVectorStoreRequest,
    ExpiresAfterParam,
    FileContentPage,
    SearchContent,
    SearchRequest,
    SearchResult,
    SearchResultsPage,
    StaticChunkingStrategy,
    UpdateVectorStoreFileRequest,
    UpdateVectorStoreRequest,
    VectorStore,
    VectorStoreFile,
    VectorStoreFileBatch,
)

DAY = 86_400


def _strategy(given: ChunkingStrategyParam | None, param: str) -> StaticChunkingStrategy:
    try:
        chosen = strategy_of(given)
    except ChunkingStrategyError as error:
        raise InvalidRequestError(
            str(error), param=error.param.replace("chunking_strategy", param, 1)
        ) from None
    return StaticChunkingStrategy.model_validate(chosen.to_api())


def _expiry(store_obj: VectorStore, now: int) -> int | None:
    after = store_obj.expires_after
    return None if after is None else now + after.days * DAY


async def _complete(conn: AsyncConnection, vector_store: VectorStore) -> VectorStore:
    counts, usage = await store.file_counts(conn, vector_store.id)
    expired = vector_store.expires_at is not None and vector_store.expires_at < unix_now()
    status = ingestion_state.store_status(counts, expired=expired)
    return vector_store.model_copy(
        update={"file_counts": counts, "usage_bytes": usage, "status": status}
    )


async def get_store(conn: AsyncConnection, project: str, store_id: str) -> VectorStore:
    found = await store.get_store(conn, project, store_id)
    if found is None:
        raise NotFoundError.for_id("vector store", store_id)
    return await _complete(conn, found)


async def create_store(
    conn: AsyncConnection, project: str, request: CreateVectorStoreRequest
) -> VectorStore:
    if request.chunking_strategy is not None and not request.file_ids:
        raise InvalidRequestError(
            "chunking_strategy is only applicable if file_ids is non-empty.",
            param="chunking_strategy",
        )
    strategy = _strategy(request.chunking_strategy, "chunking_strategy")
    file_ids = list(dict.fromkeys(request.file_ids or []))
    await references.check_file_ids(conn, project, file_ids, "file_ids[{}]")
    now = unix_now()
    vector_store = VectorStore(
        id=ids.new_id(ids.VECTOR_STORE),
        created_at=now,
        name=request.name or "",
        expires_after=request.expires_after,
        last_active_at=now,
        metadata=request.metadata or {},
    )
    vector_store.expires_at = _expiry(vector_store, now)
    await store.insert_store(conn, project, vector_store)
    for file_id in file_ids:
        await _attach(conn, project, vector_store.id, file_id, strategy, None)
    return await _complete(conn, vector_store)


async def modify_store(
    conn: AsyncConnection, project: str, store_id: str, request: UpdateVectorStoreRequest
) -> VectorStore:
    vector_store = await get_store(conn, project, store_id)
    given = request.model_fields_set
    if "name" in given:
        vector_store.name = request.name or ""
    if "metadata" in given:
        vector_store.metadata = request.metadata or {}
    if "expires_after" in given:
        vector_store.expires_after = request.expires_after
        vector_store.expires_at = _expiry(vector_store, vector_store.last_active_at or unix_now())
    await store.save_store(conn, project, vector_store)
    return await _complete(conn, vector_store)


async def delete_store(conn: AsyncConnection, project: str, store_id: str) -> DeletedObject:
    if not await store.delete_store(conn, project, store_id):
        raise NotFoundError.for_id("vector store", store_id)
    await index.delete_store(conn, store_id)
    return DeletedObject(id=store_id, object="vector_store.deleted")


async def page_stores(conn: AsyncConnection, project: str, params: PageParams) -> Page[VectorStore]:
    page = await store.page_stores(conn, project, params)
    page.data = [await _complete(conn, item) for item in page.data]
    return page


async def touch(conn: AsyncConnection, project: str, vector_store: VectorStore) -> None:
    """The store was used (searched, or by a run): push its expiry back."""
    now = unix_now()
    vector_store.last_active_at = now
    vector_store.expires_at = _expiry(vector_store, now)
    await store.save_store(conn, project, vector_store)


THREAD_STORE_DAYS = 7


async def create_thread_store(conn: AsyncConnection, project: str, thread_id: str) -> str:
    """The store a thread's message attachments go into, made on demand (expiring 7 days
    after its last use, like OpenAI's); its id."""
    created = await create_store(
        conn,
        project,
        CreateVectorStoreRequest(
            name=f"{thread_id} files",
            expires_after=ExpiresAfterParam(anchor="last_active_at", days=THREAD_STORE_DAYS),
        ),
    )
    return created.id


async def attach_missing(
    conn: AsyncConnection, project: str, store_id: str, file_ids: list[str]
) -> None:
    """Attach the files the store does not hold yet, with the default chunking."""
    strategy = _strategy(None, "chunking_strategy")
    for file_id in file_ids:
        if await store.get_file(conn, project, store_id, file_id) is None:
            await _attach(conn, project, store_id, file_id, strategy, None)


# --- files ---------------------------------------------------------------------------------------


async def _attach(
    conn: AsyncConnection,
    project: str,
    store_id: str,
    file_id: str,
    strategy: StaticChunkingStrategy,
    attributes: Any,
    batch_id: str | None = None,
) -> None:
    """Attach (or re-attach) the file; it is ingested once the transaction has committed."""
    vs_file = VectorStoreFile(
        id=file_id,
        created_at=unix_now(),
        vector_store_id=store_id,
        chunking_strategy=strategy,
        attributes=attributes,
    )
    await index.delete_file(conn, store_id, file_id)  # re-attaching re-indexes
    await store.upsert_file(conn, project, vs_file, batch_id)
    outbox(conn).ingest(Job(project, store_id, file_id, batch_id))


async def attach_file(
    conn: AsyncConnection, project: str, store_id: str, request: CreateVectorStoreFileRequest
) -> VectorStoreFile:
    await get_store(conn, project, store_id)
    await references.check_file_ids(conn, project, [request.file_id], "file_id")
    strategy = _strategy(request.chunking_strategy, "chunking_strategy")
    await _attach(conn, project, store_id, request.file_id, strategy, request.attributes)
    return await get_file(conn, project, store_id, request.file_id)


async def get_file(
    conn: AsyncConnection, project: str, store_id: str, file_id: str
) -> VectorStoreFile:
    found = await store.get_file(conn, project, store_id, file_id)
    if found is None:
        await get_store(conn, project, store_id)
        raise NotFoundError.for_id("file", file_id)
    return found


async def page_files(
    conn: AsyncConnection,
    project: str,
    store_id: str,
    params: PageParams,
    status: str | None,
    batch_id: str | None = None,
) -> Page[VectorStoreFile]:
    await get_store(conn, project, store_id)
    return await store.page_files(conn, project, store_id, params, status, batch_id)


async def update_file(
    conn: AsyncConnection,
    project: str,
    store_id: str,
    file_id: str,
    request: UpdateVectorStoreFileRequest,
) -> VectorStoreFile:
    vs_file = await get_file(conn, project, store_id, file_id)
    vs_file.attributes = request.attributes
    await store.upsert_file(conn, project, vs_file)
    await index.set_file_attributes(conn, store_id, file_id, request.attributes)
    return vs_file


async def delete_file(
    conn: AsyncConnection, project: str, store_id: str, file_id: str
) -> DeletedObject:
    """Detach a file from a store (the file itself stays in /files)."""
    await get_file(conn, project, store_id, file_id)
    await store.delete_file(conn, project, store_id, file_id)
    await index.delete_file(conn, store_id, file_id)
    return DeletedObject(id=file_id, object="vector_store.file.deleted")


async def forget_file(conn: AsyncConnection, project: str, file_id: str) -> None:
    """A file was deleted from /files: it leaves every store and every search."""
    for store_id in await store.stores_holding(conn, project, file_id):
        await store.delete_file(conn, project, store_id, file_id)
        await index.delete_file(conn, store_id, file_id)


async def file_content(
    conn: AsyncConnection, blobs: BlobStore, project: str, store_id: str, file_id: str
) -> FileContentPage:
    await get_file(conn, project, store_id, file_id)
    file = await files_store.get(conn, project, file_id)
    if file is None:
        raise NotFoundError.for_id("file", file_id)
    data = await blobs.read(file_id)
    try:
        text = await asyncio.to_thread(parse_file, data, file.filename)
    except FileParseError:
        text = ""
    return FileContentPage(data=[SearchContent(text=text)] if text else [])


# --- batches -------------------------------------------------------------------------------------


async def _complete_batch(
    conn: AsyncConnection, batch: VectorStoreFileBatch
) -> VectorStoreFileBatch:
    counts, _ = await store.file_counts(conn, batch.vector_store_id, batch.id)
    status = ingestion_state.batch_status(batch, counts)
    return batch.model_copy(update={"file_counts": counts, "status": status})


async def create_batch(
    conn: AsyncConnection, project: str, store_id: str, request: CreateFileBatchRequest
) -> VectorStoreFileBatch:
    await get_store(conn, project, store_id)
    if (request.file_ids is None) == (request.files is None):
        raise InvalidRequestError(
            "Provide exactly one of 'file_ids' and 'files'.", param="file_ids"
        )
    entries = (
        [(file_id, request.chunking_strategy, request.attributes) for file_id in request.file_ids]
        if request.file_ids is not None
        else [
            (
                f.file_id,
                f.chunking_strategy or request.chunking_strategy,
                f.attributes if f.attributes is not None else request.attributes,
            )
            for f in request.files or []
        ]
    )
    where = "file_ids[{}]" if request.file_ids is not None else "files[{}].file_id"
    await references.check_file_ids(conn, project, [e[0] for e in entries], where)
    batch = VectorStoreFileBatch(
        id=ids.new_id(ids.FILE_BATCH), created_at=unix_now(), vector_store_id=store_id
    )
    await store.insert_batch(conn, project, batch)
    for file_id, strategy, attributes in dict((e[0], e) for e in entries).values():
        chunking = _strategy(strategy, "chunking_strategy")
        await _attach(conn, project, store_id, file_id, chunking, attributes, batch.id)
    return await _complete_batch(conn, batch)


async def get_batch(
    conn: AsyncConnection, project: str, store_id: str, batch_id: str
) -> VectorStoreFileBatch:
    batch = await store.get_batch(conn, project, store_id, batch_id)
    if batch is None:
        await get_store(conn, project, store_id)
        raise NotFoundError.for_id("file batch", batch_id)
    return await _complete_batch(conn, batch)


async def cancel_batch(
    conn: AsyncConnection, project: str, store_id: str, batch_id: str
) -> VectorStoreFileBatch:
    batch = await get_batch(conn, project, store_id, batch_id)
    if batch.status != "in_progress":
        raise InvalidRequestError(f"Cannot cancel a batch with status '{batch.status}'.")
    for _, vs_file in await store.files_with_status(conn, "in_progress", batch_id):
        await store.upsert_file(conn, project, ingestion_state.advance_file(vs_file, "cancelled"))
    batch = ingestion_state.cancel_batch(batch)
    await store.save_batch(conn, project, batch)
    outbox(conn).cancel_ingestion(batch_id)  # its files still being ingested stop
    return await _complete_batch(conn, batch)


# --- search --------------------------------------------------------------------------------------


async def search(
    conn: AsyncConnection,
    project: str,
    store_id: str,
    request: SearchRequest,
    engine: FileSearchEngine,
) -> SearchResultsPage:
    vector_store = await get_store(conn, project, store_id)
    if vector_store.status == "expired":
        raise InvalidRequestError(f"Vector store {store_id} has expired.", param="vector_store_id")
    queries = [request.query] if isinstance(request.query, str) else request.query
    if request.rewrite_query:
        queries = [keywords.rewrite_query(query) for query in queries]
    threshold = request.ranking_options.score_threshold if request.ranking_options else 0.0
    found = await engine.query(
        conn,
        project,
        [store_id],
        queries,
        k=request.max_num_results,
        filters=None if request.filters is None else request.filters.model_dump(),
        score_threshold=threshold,
    )
    attributes = {}
    for file_id in dict.fromkeys(f.hit.file_id for f in found):
        vs_file = await store.get_file(conn, project, store_id, file_id)
        attributes[file_id] = vs_file.attributes if vs_file else None
    data = [
        SearchResult(
            file_id=f.hit.file_id,
            filename=f.filename,
            score=round(f.hit.score, 6),
            attributes=attributes[f.hit.file_id],
            content=[SearchContent(text=f.hit.text)],
        )
        for f in found
    ]
    return SearchResultsPage(search_query=queries, data=data)
