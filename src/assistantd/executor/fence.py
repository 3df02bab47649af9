"""Fencing: an execution of a run proves, in each of its write transactions, that it still
holds the run's lease at its attempt number; a stale execution (its node was presumed dead and
the run taken over) gets `Fenced` instead, and writes nothing more.

On SQLite (one process) there is no fence: the executor gets `None`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.runs import lease_store


class Fenced(Exception):
    """This execution no longer holds the run's lease: another attempt owns the run."""


@dataclass
class Fence:
    run_id: str
    node: str
    attempt: int
    lost: bool = False  # a write was refused, or the heartbeat found the lease gone
    released: bool = False  # handed back (shutdown): stop without writing

    @property
    def stopped(self) -> bool:
        """Nothing more may be written by this execution."""
        return self.lost or self.released

    async def check(self, conn: AsyncConnection) -> None:
        """Call first in every write transaction of the execution (locks the lease row)."""
        if self.stopped:
            raise Fenced(self.run_id)
        if not await lease_store.hold(conn, self.run_id, self.node, self.attempt):
            self.lost = True
            raise Fenced(self.run_id)

    async def release(self, conn: AsyncConnection, *, offer: bool = False) -> None:
        """The run stopped running (or is handed to other nodes, `offer`): give the lease up in
        the transaction that wrote its status. Later writes of this execution are refused."""
        await lease_store.release(conn, self.run_id, self.node, self.attempt, offer=offer)
        self.released = True
