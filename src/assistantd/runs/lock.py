"""The thread lock: while a run on a thread is not terminal, no message can be added and no
other run created (the live API's 400s and wording)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.errors import ActiveRunError
from assistantd.runs import store


async def check_unlocked(conn: AsyncConnection, thread_id: str, *, for_message: bool) -> None:
    await store.lock_thread(conn, thread_id)
    active = await store.active_run_id(conn, thread_id)
    if active is None:
        return
    if for_message:
        raise ActiveRunError(f"Can't add messages to {thread_id} while a run {active} is active.")
    raise ActiveRunError(f"Thread {thread_id} already has an active run {active}.")
