"""The tasks that generate responses: started, found again to cancel, and what a restart left
unfinished. On PostgreSQL their leases (durable.py) let any node cancel them, take over a dead
node's and stream a background response's events; on SQLite all is in this one process."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db.engine import Database, background
from assistantd.errors import InvalidRequestError
from assistantd.responses_api import events, store
from assistantd.responses_api.durable import Durable
from assistantd.responses_api.generate import SHUTDOWN
from assistantd.responses_api.schemas import Response, ResponseError
from assistantd.responses_api.service import get

_running: dict[str, asyncio.Task[Response]] = {}
_durable: list[Durable] = []  # set by the lifespan on PostgreSQL (one per app)


def configure(durable: Durable | None) -> None:
    _durable.clear()
    if durable is not None:
        _durable.append(durable)


def durable() -> Durable | None:
    return _durable[0] if _durable else None


def cancel_local(response_id: str) -> bool:
    """Cancel the response's task if this process generates it."""
    task = _running.get(response_id)
    if task is None or task.done():
        return False
    task.cancel()
    return True


def spawn(response: Response, work: Coroutine[Any, Any, Response]) -> asyncio.Task[Response]:
    """Run a generation on its own task, kept until it ends; its event log closes with it.
    The task is background work: past the pool's capacity it waits for a connection."""
    with background():  # the task copies the context as it is now
        task = asyncio.create_task(work)
    _running[response.id] = task

    def ended(_task: asyncio.Task[Response]) -> None:
        _running.pop(response.id, None)
        events.close(response.id, retain=response.background)
        shared = durable()
        if shared is not None:
            if response.background:  # first: a stale generation's close is fenced too
                shared.close_stream(response.id)
            shared.forget(response.id)

    task.add_done_callback(ended)
    return task


async def cancel(db: Database, project: str, response_id: str) -> Response:
    """Cancel a background response under way; a finished one is returned as it is."""
    async with db.read() as conn:
        response = await get(conn, project, response_id)
    if not response.background:
        raise InvalidRequestError(
            "Only responses created with background=true can be cancelled.", param=None
        )
    task = _running.get(response_id)
    shared = durable()
    if task is None and shared is not None and response.status in ("queued", "in_progress"):
        # Another node generates it (or did, and died): it ends it; this one waits for that.
        ended = await shared.cancel(project, response_id)
        return response if ended is None else ended
    if task is None:
        return response
    task.cancel()
    return await asyncio.shield(task)


async def stop_all() -> None:
    """The server stops: responses under way end `failed` (and are stored so) now, rather
    than being cut off with their connections open. Only this app's (this event loop's):
    another app in the process (tests run several) keeps its own, and a task of another loop
    can be neither cancelled from here safely nor awaited (its app's shutdown then broke off
    before closing its upstream connections and its database)."""
    loop = asyncio.get_running_loop()
    tasks = [task for task in _running.values() if task.get_loop() is loop]
    for task in tasks:
        task.cancel(SHUTDOWN)
    await asyncio.gather(*tasks, return_exceptions=True)


async def fail_unfinished(conn: AsyncConnection) -> int:
    """Responses a crashed server left queued or in progress end `failed` (run at start-up,
    like the runs' recovery)."""
    count = 0
    for project, response in await store.unfinished(conn):
        failed = response.model_copy(
            update={
                "status": "failed",
                "error": ResponseError(code="server_error", message=SHUTDOWN),
            }
        )
        await store.update(conn, project, failed)
        count += 1
    return count
