"""Checking the thread lock (the live API's 400s and wording)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.errors import ActiveRunError
from assistantd.thread_lock import store


async def check_unlocked(conn: AsyncConnection, thread_id: str, *, for_message: bool) -> None:
    await store.lock_thread(conn, thread_id)
    active = await store.active_run_id(conn, thread_id)
    if active is None:
        return
    if for_message:
        raise ActiveRunError(f"Can't add messages to {thread_id} while a run {active} is active.")
    raise ActiveRunError(f"Thread {thread_id} already has an active run {active}.")
