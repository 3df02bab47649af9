"""All SQL for messages."""

from __future__ import annotations

import threading
from collections import OrderedDict
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
    read: Message | None = None,
) -> Message | None:
    """Set only `changes`, if the stored message still holds `expect` (documents.patch_doc)."""
    return await documents.patch_doc(
        conn, messages, message_id, Message, changes, expect=expect, read=read
    )


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
    await documents.upsert_doc(
        conn, messages, project, message, thread_id=message.thread_id, run_id=message.run_id
    )


async def of_thread(
    conn: AsyncConnection, thread_id: str, keys: dict[str, str] | None = None
) -> list[Message]:
    """Every message of the thread, oldest first; `keys` (if given) gets each one's sort key."""
    return parse_thread(await rows_of_thread(conn, thread_id), thread_id, keys)


async def rows_of_thread(conn: AsyncConnection, thread_id: str) -> list[tuple[str, str]]:
    """(sort key, stored body) of every message of the thread, oldest first: parse them with
    `parse_thread`, off the event loop for a long thread."""
    rows = await documents.select_rows(
        conn, messages, ("ord", "body"), order_by="ord", thread_id=thread_id
    )
    return [(ord_, body) for ord_, body in rows]


def parse_thread(
    rows: list[tuple[str, str]],
    thread_id: str,
    keys: dict[str, str] | None = None,
    *,
    shared: bool = False,
) -> list[Message]:
    """The messages of `rows_of_thread`. `shared`: for reading only, a body parsed before
    (the same stored text) gives the same object again; every model call of a run rereads the
    whole thread, and parsing was most of that cost (~40 µs a message)."""
    found = []
    for ord_, body in rows:
        message = _parsed.get(body) if shared else None
        if message is None:
            message = documents.load(Message, body, thread_id)
            if message is not None and shared:
                _parsed.put(body, message)
        if message is None:
            continue
        if keys is not None:
            keys[message.id] = ord_
        found.append(message)
    return found


async def of_run(conn: AsyncConnection, run_id: str) -> list[Message]:
    query = select(messages.c.body).where(messages.c.run_id == run_id).order_by(messages.c.ord)
    return documents.load_all(Message, (await conn.execute(query)).scalars().all(), run_id)


class _ParsedCache:
    """Parsed messages by stored body, least recently used dropped past `limit` characters.
    Thread-safe (parsing runs in worker threads)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._chars = 0
        self._items: OrderedDict[str, Message] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, body: str) -> Message | None:
        with self._lock:
            found = self._items.get(body)
            if found is not None:
                self._items.move_to_end(body)
            return found

    def put(self, body: str, message: Message) -> None:
        with self._lock:
            if body in self._items:
                return
            self._items[body] = message
            self._chars += len(body)
            while self._chars > self._limit:
                dropped, _ = self._items.popitem(last=False)
                self._chars -= len(dropped)


_parsed = _ParsedCache(limit=4_000_000)  # ~4 MB of bodies (their objects take ~3x that)
