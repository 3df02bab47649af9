"""Write-behind for what a run creates while it streams (its messages and steps).

A streaming run announces a step, then a message, then deltas; writing each object before its
event would put two SQLite write transactions (and the queue for the one write lock, when many
runs stream) between the model's first token and the client's. Instead objects are saved a
moment later, coalesced per object, and always before anything that reads them back: the next
model call's context, the run's status changes (in the same transaction), its end.

One write of a writer at a time, from before its transaction begins until it has committed
(`_order`): a write that started while another's insert was still uncommitted could not see
the row (PostgreSQL), would insert it again and fail on the duplicate key. `_order` is always
taken before the database (its write lock on SQLite, a pooled connection, row locks), by the
timed flush and by the run's status changes (`transaction`) alike, and nothing that holds a
database lock waits for it, so it cannot close a cycle with them. What a failed or cancelled
transaction held is queued again; an object counts as stored only once its commit is done.

With a fence (several nodes, `runs/fence.py`), every transaction of the writer first
proves the run's lease; a stale execution's writes are refused and what it had is dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db import documents
from assistantd.db.engine import Database
from assistantd.messages import store as messages_store
from assistantd.messages.schemas import Message
from assistantd.run_steps import store as steps_store
from assistantd.run_steps.schemas import RunStep
from assistantd.runs import fence as fencing
from assistantd.runs.fence import Fence, Fenced

DELAY_S = 0.05

Item = Message | RunStep


class WriteBehind:
    def __init__(
        self, db: Database, project: str, delay_s: float = DELAY_S, *, fence: Fence | None = None
    ) -> None:
        self._db = db
        self._fence = fence
        self._project = project
        self._delay_s = delay_s
        self._pending: dict[str, Item] = {}
        # Each object as last committed by this writer (or first read): later writes set only
        # what differs, so what the API changed meanwhile (a message's metadata) is kept.
        self._written: dict[str, Item] = {}
        self._timer: asyncio.Task[None] | None = None
        self._order = asyncio.Lock()  # one transaction of this writer at a time (see above)
        self._joined: list[Item] = []  # written in the open transaction, not committed yet

    @property
    def pending(self) -> bool:
        """Something is queued, not written yet."""
        return bool(self._pending)

    async def save(self, obj: Item, read: Item | None = None) -> None:
        """Queue `obj` for writing; `read` is the stored copy it was made from, if this writer
        did not write it before (e.g. a step loaded to be closed)."""
        if read is not None and obj.id not in self._pending:  # pending: not stored yet
            self._written.setdefault(obj.id, read)
        self._pending[obj.id] = obj
        if self._timer is None or self._timer.done():
            self._timer = asyncio.create_task(self._later())

    async def _later(self) -> None:
        await asyncio.sleep(self._delay_s)
        with contextlib.suppress(Fenced):  # the executor learns it at its next write
            await self.flush()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction that what is pending can join (`flush(conn)` inside it): no
        other write of this writer is under way from before it begins until it commits."""
        async with self._order:
            try:
                async with fencing.write(self._db, self._fence) as conn:
                    yield conn
            except Fenced:
                self._pending.clear()  # another attempt owns the run: nothing more is written
                raise
            except BaseException:
                self._requeue(self._joined)
                raise
            finally:
                joined, self._joined = self._joined, []
            self._committed(joined)

    async def flush(self, conn: AsyncConnection | None = None) -> None:
        """Write what is pending: in `conn`, a transaction opened by `transaction()`, or else
        in a transaction of its own."""
        if conn is not None:
            assert self._order.locked(), "flush(conn) needs the writer's transaction()"
            self._joined += await self._write_pending(conn)
            return
        if not self._pending:
            return
        async with self.transaction() as own:
            await self.flush(own)

    async def _write_pending(self, conn: AsyncConnection) -> list[Item]:
        items = list(self._pending.values())
        self._pending.clear()
        try:
            for item in items:
                await self._write(conn, item)
        except BaseException:
            self._requeue(items)
            raise
        return items

    def _requeue(self, items: list[Item]) -> None:
        """Pending again, where they were: a newer save of the same object keeps its value."""
        self._pending = {**{item.id: item for item in items}, **self._pending}

    def _committed(self, items: list[Item]) -> None:
        for item in items:
            self._written[item.id] = item

    async def _write(self, conn: AsyncConnection, item: Item) -> None:
        before = self._written.get(item.id)
        if before is not None:
            changes = documents.changed(before, item)
            if not changes:
                return
            if isinstance(item, Message) and isinstance(before, Message):
                patched = (
                    await messages_store.patch(conn, item.id, changes, read=before) is not None
                )
            elif isinstance(item, RunStep) and isinstance(before, RunStep):
                patched = await steps_store.patch(conn, item.id, changes, read=before) is not None
            else:  # (one id is one kind of object)
                patched = False
            if patched:
                return
        # new (the executor made it), or not stored (yet): written whole
        if isinstance(item, Message):
            await messages_store.upsert(conn, self._project, item)
        else:
            await steps_store.upsert(conn, self._project, item)

    async def close(self) -> None:
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
        with contextlib.suppress(Fenced):  # a stale execution leaves what it had unwritten
            await self.flush()
