"""All SQL for threads."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db import documents
from assistantd.db.tables import threads
from assistantd.pagination import PageParams
from assistantd.threads.schemas import Thread


async def insert(conn: AsyncConnection, project: str, thread: Thread) -> None:
    await documents.insert_doc(conn, threads, project, thread)


async def get(conn: AsyncConnection, project: str, thread_id: str) -> Thread | None:
    return await documents.get_doc(conn, threads, project, thread_id, Thread)


async def update(conn: AsyncConnection, project: str, thread: Thread) -> None:
    await documents.update_doc(conn, threads, project, thread)


async def delete(conn: AsyncConnection, project: str, thread_id: str) -> bool:
    """Delete the thread; its messages (and runs) go with it through ON DELETE CASCADE."""
    return await documents.delete_doc(conn, threads, project, thread_id)


async def page(
    conn: AsyncConnection, project: str, params: PageParams, metadata: dict[str, str]
) -> documents.RawPage:
    return await documents.page_raw_by_metadata(conn, threads, project, params, metadata)
