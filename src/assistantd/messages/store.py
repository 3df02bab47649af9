"""All SQL for messages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db import documents
from assistantd.db.tables import messages
from assistantd.messages.schemas import Message
from assistantd.pagination import PageParams


async def insert(conn: AsyncConnection, project: str, message: Message) -> None:
    await documents.insert_doc(
        conn, messages, project, message, thread_id=message.thread_id, run_id=message.run_id
    )


async def get(
    conn: AsyncConnection, project: str, thread_id: str, message_id: str
) -> Message | None:
    return await documents.get_doc(
        conn, messages, project, message_id, Message, thread_id=thread_id
    )


async def update(conn: AsyncConnection, project: str, message: Message) -> None:
    await documents.update_doc(conn, messages, project, message)


async def patch(
    conn: AsyncConnection,
    message_id: str,
    changes: dict[str, Any],
    *,
    expect: dict[str, Any] | None = None,
) -> Message | None:
    """Set only `changes`, if the stored message still holds `expect` (documents.patch_doc)."""
    return await documents.patch_doc(conn, messages, message_id, Message, changes, expect=expect)


async def delete(conn: AsyncConnection, project: str, thread_id: str, message_id: str) -> bool:
    message = await get(conn, project, thread_id, message_id)
    return message is not None and await documents.delete_doc(conn, messages, project, message_id)


async def page(
    conn: AsyncConnection, project: str, thread_id: str, params: PageParams, run_id: str | None
) -> documents.RawPage:
    filters = {"thread_id": thread_id}
    if run_id:
        filters["run_id"] = run_id
    return await documents.page_raw(conn, messages, project, params, **filters)


async def upsert(conn: AsyncConnection, project: str, message: Message) -> None:
    """Insert or replace (the executor saves a message as it grows)."""
    if not await documents.update_doc(conn, messages, project, message):
        await insert(conn, project, message)


async def of_thread(
    conn: AsyncConnection, thread_id: str, keys: dict[str, str] | None = None
) -> list[Message]:
    """Every message of the thread, oldest first; `keys` (if given) gets each one's sort key."""
    query = (
        select(messages.c.ord, messages.c.body)
        .where(messages.c.thread_id == thread_id)
        .order_by(messages.c.ord)
    )
    found = []
    for ord_, body in await conn.execute(query):
        message = documents.load(Message, body, thread_id)
        if message is None:
            continue
        if keys is not None:
            keys[message.id] = ord_
        found.append(message)
    return found


async def of_run(conn: AsyncConnection, run_id: str) -> list[Message]:
    query = select(messages.c.body).where(messages.c.run_id == run_id).order_by(messages.c.ord)
    return documents.load_all(Message, (await conn.execute(query)).scalars().all(), run_id)
