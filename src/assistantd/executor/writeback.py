"""Write-behind for what a run creates while it streams (its messages and steps).

A streaming run announces a step, then a message, then deltas; writing each object before its
event would put two SQLite write transactions (and the queue for the one write lock, when many
runs stream) between the model's first token and the client's. Instead objects are saved a
moment later, coalesced per object, and always before anything that reads them back: the next
model call's context, the run's status changes (in the same transaction), its end.
"""

from __future__ import annotations

import asyncio
import contextlib

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db import documents
from assistantd.db.engine import Database
from assistantd.messages import store as messages_store
from assistantd.messages.schemas import Message
from assistantd.run_steps import store as steps_store
from assistantd.run_steps.schemas import RunStep

DELAY_S = 0.05


class WriteBehind:
    def __init__(self, db: Database, project: str, delay_s: float = DELAY_S) -> None:
        self._db = db
        self._project = project
        self._delay_s = delay_s
        self._pending: dict[str, Message | RunStep] = {}
        # Each object as this writer last wrote (or first read) it: later writes set only what
        # differs, so what the API changed meanwhile (a message's metadata) is kept.
        self._written: dict[str, Message | RunStep] = {}
        self._timer: asyncio.Task[None] | None = None
        self._order = asyncio.Lock()  # flushes write in the order objects changed

    async def save(self, obj: Message | RunStep, read: Message | RunStep | None = None) -> None:
        """Queue `obj` for writing; `read` is the stored copy it was made from, if this writer
        did not write it before (e.g. a step loaded to be closed)."""
        if read is not None and obj.id not in self._pending:  # pending: not stored yet
            self._written.setdefault(obj.id, read)
        self._pending[obj.id] = obj
        if self._timer is None or self._timer.done():
            self._timer = asyncio.create_task(self._later())

    async def _later(self) -> None:
        await asyncio.sleep(self._delay_s)
        await self.flush()

    async def flush(self, conn: AsyncConnection | None = None) -> None:
        """Write what is pending, in `conn`'s transaction if given, else in a new one.

        Lock order: the write transaction first, then `_order`, always (the executor calls
        this inside its own write transactions). Taking `_order` first and then waiting for
        SQLite's write lock deadlocked the server under load: a status change holding the write
        lock waited for `_order`, held by this run's timer flush waiting for the write lock.
        """
        if conn is not None:
            async with self._order:
                await self._write_pending(conn)
            return
        if not self._pending:
            return
        async with self._db.write() as own, self._order:
            await self._write_pending(own)

    async def _write_pending(self, conn: AsyncConnection) -> None:
        items = list(self._pending.values())
        self._pending.clear()
        await self._write(conn, items)

    async def _write(self, conn: AsyncConnection, items: list[Message | RunStep]) -> None:
        for item in items:
            before = self._written.get(item.id)
            self._written[item.id] = item
            if before is None:  # new: the executor made it
                if isinstance(item, Message):
                    await messages_store.upsert(conn, self._project, item)
                else:
                    await steps_store.upsert(conn, self._project, item)
                continue
            changes = documents.changed(before, item)
            if not changes:
                continue
            if isinstance(item, Message):
                patched = await messages_store.patch(conn, item.id, changes) is not None
            else:
                patched = await steps_store.patch(conn, item.id, changes) is not None
            if not patched:  # not stored (yet): write it whole
                if isinstance(item, Message):
                    await messages_store.upsert(conn, self._project, item)
                else:
                    await steps_store.upsert(conn, self._project, item)

    async def close(self) -> None:
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        await self.flush()
