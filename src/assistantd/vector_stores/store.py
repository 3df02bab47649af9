"""All SQL for vector stores, their files and file batches (the index itself is `index/`)."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db import documents
from assistantd.db.tables import vector_store_file_batches as batches
from assistantd.db.tables import vector_store_files as vs_files
from assistantd.db.tables import vector_stores
from assistantd.pagination import PageParams
from assistantd.schemas import Page
from assistantd.vector_stores.schemas import (
    FileCounts,
    VectorStore,
    VectorStoreFile,
    VectorStoreFileBatch,
)
from assistantd.vector_stores.state import advance_file

# --- stores --------------------------------------------------------------------------------------


async def insert_store(conn: AsyncConnection, project: str, store: VectorStore) -> None:
    await documents.insert_doc(conn, vector_stores, project, store, expires_at=store.expires_at)


async def get_store(conn: AsyncConnection, project: str, store_id: str) -> VectorStore | None:
    return await documents.get_doc(conn, vector_stores, project, store_id, VectorStore)


async def save_store(conn: AsyncConnection, project: str, store: VectorStore) -> None:
    await documents.update_doc(conn, vector_stores, project, store, expires_at=store.expires_at)


async def delete_store(conn: AsyncConnection, project: str, store_id: str) -> bool:
    return await documents.delete_doc(conn, vector_stores, project, store_id)


async def page_stores(conn: AsyncConnection, project: str, params: PageParams) -> Page[VectorStore]:
    return await documents.page_docs(conn, vector_stores, project, params, VectorStore)


async def existing_store_ids(conn: AsyncConnection, project: str, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    query = select(vector_stores.c.id).where(
        vector_stores.c.project == project, vector_stores.c.id.in_(ids)
    )
    return set((await conn.execute(query)).scalars())


async def expired_store_ids(conn: AsyncConnection, now: int) -> list[str]:
    query = select(vector_stores.c.id).where(vector_stores.c.expires_at < now)
    return list((await conn.execute(query)).scalars())


async def file_counts(
    conn: AsyncConnection, store_id: str, batch_id: str | None = None
) -> tuple[FileCounts, int]:
    """(counts by status, usage bytes of completed files) of a store or one of its batches."""
    where = [vs_files.c.vector_store_id == store_id]
    if batch_id is not None:
        where.append(vs_files.c.batch_id == batch_id)
    query = (
        select(vs_files.c.status, func.count(), func.coalesce(func.sum(vs_files.c.usage_bytes), 0))
        .where(*where)
        .group_by(vs_files.c.status)
    )
    counts = FileCounts()
    usage = 0
    for status, count, size in (await conn.execute(query)).all():
        setattr(counts, status, count)
        counts.total += count
        usage += int(size) if status == "completed" else 0
    return counts, usage


# --- files ---------------------------------------------------------------------------------------


async def upsert_file(
    conn: AsyncConnection, project: str, file: VectorStoreFile, batch_id: str | None = None
) -> None:
    values = {
        "body": file.model_dump_json(),
        "status": file.status,
        "usage_bytes": file.usage_bytes,
    }
    query = (
        update(vs_files)
        .where(vs_files.c.vector_store_id == file.vector_store_id, vs_files.c.id == file.id)
        .values(**values)
    )
    if batch_id is not None:
        query = query.values(batch_id=batch_id)
    if not (await conn.execute(query)).rowcount:
        await conn.execute(
            vs_files.insert().values(
                vector_store_id=file.vector_store_id,
                id=file.id,
                project=project,
                batch_id=batch_id,
                **values,
            )
        )


async def complete_file(
    conn: AsyncConnection, project: str, store_id: str, file_id: str, usage_bytes: int
) -> bool:
    """Mark an ingested file `completed`, only if it is still attached and `in_progress`
    (it may have been deleted, or its batch cancelled, meanwhile). The row is locked on
    PostgreSQL; SQLite serialises writes. Attributes updated meanwhile are kept."""
    query = select(vs_files.c.body).where(
        vs_files.c.vector_store_id == store_id,
        vs_files.c.id == file_id,
        vs_files.c.project == project,
        vs_files.c.status == "in_progress",
    )
    if conn.dialect.name != "sqlite":
        query = query.with_for_update()
    body = (await conn.execute(query)).scalar_one_or_none()
    current = None if body is None else documents.load(VectorStoreFile, body, file_id)
    if current is None:
        return False
    done = advance_file(current, "completed", usage_bytes=usage_bytes)
    await conn.execute(
        update(vs_files)
        .where(vs_files.c.vector_store_id == store_id, vs_files.c.id == file_id)
        .values(body=done.model_dump_json(), status="completed", usage_bytes=usage_bytes)
    )
    return True


async def get_file(
    conn: AsyncConnection, project: str, store_id: str, file_id: str
) -> VectorStoreFile | None:
    return await documents.get_doc(
        conn, vs_files, project, file_id, VectorStoreFile, vector_store_id=store_id
    )


async def delete_file(conn: AsyncConnection, project: str, store_id: str, file_id: str) -> bool:
    query = vs_files.delete().where(
        vs_files.c.vector_store_id == store_id,
        vs_files.c.id == file_id,
        vs_files.c.project == project,
    )
    return bool((await conn.execute(query)).rowcount)


async def page_files(
    conn: AsyncConnection,
    project: str,
    store_id: str,
    params: PageParams,
    status: str | None,
    batch_id: str | None = None,
) -> Page[VectorStoreFile]:
    filters = {"vector_store_id": store_id}
    if status:
        filters["status"] = status
    if batch_id:
        filters["batch_id"] = batch_id
    return await documents.page_docs(conn, vs_files, project, params, VectorStoreFile, **filters)


async def files_with_status(
    conn: AsyncConnection, status: str, batch_id: str | None = None
) -> list[tuple[str, VectorStoreFile]]:
    """(project, file) for every vector store file in `status` (recovery, batch cancel)."""
    query = select(vs_files.c.project, vs_files.c.body).where(vs_files.c.status == status)
    if batch_id is not None:
        query = query.where(vs_files.c.batch_id == batch_id)
    found = [
        (row.project, documents.load(VectorStoreFile, row.body, f"{row.project}:{status}"))
        for row in (await conn.execute(query)).all()
    ]
    return [(project, file) for project, file in found if file is not None]


async def stores_holding(conn: AsyncConnection, project: str, file_id: str) -> list[str]:
    query = select(vs_files.c.vector_store_id).where(
        vs_files.c.project == project, vs_files.c.id == file_id
    )
    return list((await conn.execute(query)).scalars())


# --- batches -------------------------------------------------------------------------------------


async def insert_batch(conn: AsyncConnection, project: str, batch: VectorStoreFileBatch) -> None:
    await documents.insert_doc(conn, batches, project, batch, vector_store_id=batch.vector_store_id)


async def get_batch(
    conn: AsyncConnection, project: str, store_id: str, batch_id: str
) -> VectorStoreFileBatch | None:
    return await documents.get_doc(
        conn,
        batches,
        project,
        batch_id,
        VectorStoreFileBatch,
        vector_store_id=store_id,
    )


async def save_batch(conn: AsyncConnection, project: str, batch: VectorStoreFileBatch) -> None:
    await documents.update_doc(conn, batches, project, batch)
