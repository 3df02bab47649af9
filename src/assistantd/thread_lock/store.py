"""All SQL of the thread lock."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db import direct
from assistantd.db.tables import runs, threads
from assistantd.run_status import ACTIVE


async def active_run_id(conn: AsyncConnection, thread_id: str) -> str | None:
    if direct.direct(conn):  # checked on every message create: keep it cheap
        found = await direct.rows(
            conn,
            "SELECT id FROM runs WHERE thread_id = ? AND status IN (?, ?, ?, ?) LIMIT 1",
            (thread_id, *ACTIVE),
        )
        return str(found[0][0]) if found else None
    query = select(runs.c.id).where(runs.c.thread_id == thread_id, runs.c.status.in_(ACTIVE))
    return (await conn.execute(query.limit(1))).scalar_one_or_none()


async def lock_thread(conn: AsyncConnection, thread_id: str) -> None:
    """Serialise run creation and message creation on one thread (PostgreSQL row lock; SQLite
    already serialises every write transaction)."""
    if conn.dialect.name == "sqlite":
        return
    if direct.direct(conn):
        await direct.rows(conn, "SELECT id FROM threads WHERE id = ? FOR UPDATE", (thread_id,))
    else:
        await conn.execute(select(threads.c.id).where(threads.c.id == thread_id).with_for_update())
