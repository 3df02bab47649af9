"""Fencing: an execution of a run proves, in each of its write transactions, that it still
holds the run's lease at its attempt number; a stale execution (its node was presumed dead and
the run taken over) gets `Fenced` instead, and writes nothing more.

Everything written on behalf of an execution goes through `write(db, fence)`: the executor's
status changes and write-behind, the scheduler's endings, and the tools' own writes (files the
code interpreter makes, the /mnt/data manifest, the vector stores a search uses). It lives
here, under the lease's SQL, so that the tools below the executor use the same one.

On SQLite (one process) there is no fence: the executor gets `None`, and `write` is the
database's plain write transaction.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db.engine import Database
from assistantd.runs import lease_store


class Fenced(Exception):
    """This execution no longer holds the run's lease: another attempt owns the run."""


@dataclass
class Fence:
    run_id: str
    node: str
    attempt: int
    lost: bool = False  # a write was refused, or the heartbeat found the lease gone
    released: bool = False  # its release was written (in a transaction not yet committed)
    let_go: bool = False  # that release committed: the lease is no longer this node's
    handed: bool = False  # handed back (shutdown): stop without writing

    @property
    def stopped(self) -> bool:
        """Nothing more may be written by this execution."""
        return self.lost or self.released or self.handed

    async def check(self, conn: AsyncConnection) -> None:
        """Call first in every write transaction of the execution (locks the lease row)."""
        if self.stopped:
            raise Fenced(self.run_id)
        if not await lease_store.LEASES.hold(conn, self.run_id, self.node, self.attempt):
            self.lost = True
            raise Fenced(self.run_id)

    async def release(self, conn: AsyncConnection, *, offer: bool = False) -> None:
        """The run stopped running (or is handed to other nodes, `offer`): give the lease up in
        the transaction that wrote its status. Later writes of this execution are refused;
        `let_go` says once that transaction has committed (`write`)."""
        await lease_store.LEASES.release(conn, self.run_id, self.node, self.attempt, offer=offer)
        self.released = True


@asynccontextmanager
async def write(db: Database, fence: Fence | None) -> AsyncIterator[AsyncConnection]:
    """A write transaction of the execution `fence` names: its lease row is locked (FOR KEY
    SHARE) before anything is written and until the commit, so a takeover waits for what is
    under way and every later write of a stale execution raises `Fenced`. Something written
    outside the database inside it (an object in the blob store) is thus ordered before the
    takeover too. With no fence (SQLite), a plain write transaction."""
    async with db.write() as conn:
        if fence is not None:
            await fence.check(conn)
        yield conn
    if fence is not None and fence.released:  # released in it (check refused it before)
        fence.let_go = True
