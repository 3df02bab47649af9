"""Rules for threads: creation with seed messages, tool resources, cascading delete."""

from __future__ import annotations

import time

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd import ids, tool_resources
from assistantd.db.documents import RawPage
from assistantd.effects import outbox
from assistantd.errors import NotFoundError
from assistantd.messages import service as messages
from assistantd.pagination import PageParams
from assistantd.schemas import DeletedObject
from assistantd.threads import store
from assistantd.threads.schemas import CreateThreadRequest, ModifyThreadRequest, Thread


async def create(conn: AsyncConnection, project: str, request: CreateThreadRequest) -> Thread:
    thread = Thread(
        id=ids.new_id(ids.THREAD),
        created_at=int(time.time()),
        tool_resources=await tool_resources.resolve(conn, project, request.tool_resources),
        metadata=request.metadata or {},
    )
    await store.insert(conn, project, thread)
    for index, message in enumerate(request.messages or []):
        await messages.add(conn, project, thread, message, param=f"messages[{index}]")
    return thread


async def get(conn: AsyncConnection, project: str, thread_id: str) -> Thread:
    thread = await store.get(conn, project, thread_id)
    if thread is None:
        raise NotFoundError.for_id("thread", thread_id)
    return thread


async def modify(
    conn: AsyncConnection, project: str, thread_id: str, request: ModifyThreadRequest
) -> Thread:
    thread = await get(conn, project, thread_id)
    given = request.model_fields_set
    if "metadata" in given:
        thread.metadata = request.metadata or {}
    if "tool_resources" in given:
        thread.tool_resources = await tool_resources.resolve(conn, project, request.tool_resources)
    await store.update(conn, project, thread)
    return thread


async def delete(conn: AsyncConnection, project: str, thread_id: str) -> DeletedObject:
    if not await store.delete(conn, project, thread_id):
        raise NotFoundError.for_id("thread", thread_id)
    outbox(conn).delete_sandbox_files(thread_id)  # only once the delete has committed
    return DeletedObject(id=thread_id, object="thread.deleted")


async def page(
    conn: AsyncConnection, project: str, params: PageParams, metadata: dict[str, str]
) -> RawPage:
    """The project's threads (an extension: OpenAI never listed threads)."""
    return await store.page(conn, project, params, metadata)
