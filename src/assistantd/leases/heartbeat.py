"""A node's heartbeat over one lease table: every `interval_s` it renews what the node holds,
says which leases it lost (another node claimed them: this node took too long to renew), and
claims the jobs whose lease expired (their node died), in one transaction.

The renewal and the claim share that transaction on purpose: the holdings are read once the
connection is ours (under load a beat may wait long for one), so every lease they name is
committed and one taken after them expires a full TTL later; a claim made at once cannot take
over this node's own jobs. Who holds what, and what a claimed job does, is the caller's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db.engine import Database, background
from assistantd.leases.store import Claimed, Held, Leases

log = logging.getLogger(__name__)


@dataclass
class Beat:
    """What one heartbeat found: `held` (key -> attempt) as it was read, what of it is still
    this node's (`renewed`), and what it claimed."""

    held: dict[str, int]
    renewed: dict[str, Held]
    claimed: list[Claimed] = field(default_factory=list)

    def lost(self) -> list[str]:
        """The keys of `held` whose lease is no longer this node's at that attempt."""
        return [
            key
            for key, attempt in self.held.items()
            if (now := self.renewed.get(key)) is None or now.attempt != attempt
        ]


class Heartbeat:
    def __init__(
        self,
        db: Database,
        leases: Leases,
        *,
        node: str,
        ttl_s: float,
        interval_s: float,
        name: str,
        renew_held_only: bool = True,
        claim_batch: int = 32,
    ) -> None:
        self.db = db
        self.leases = leases
        self.node = node
        self.ttl_s = ttl_s
        self.interval_s = interval_s
        self._name = name
        self._renew_held_only = renew_held_only
        self._claim_batch = claim_batch
        self._task: asyncio.Task[None] | None = None

    def start(self, beat: Callable[[], Awaitable[None]]) -> None:
        """Call `beat` (which calls `renew_and_claim`) every `interval_s` until `stop`."""
        self._task = asyncio.create_task(self._forever(beat), name=self._name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await task

    async def _forever(self, beat: Callable[[], Awaitable[None]]) -> None:
        with background():
            while True:
                try:
                    await beat()
                except asyncio.CancelledError:
                    raise
                except Exception:  # the database may be away a moment: try again next beat
                    if self._task is None:
                        raise  # (stopping)
                    log.exception("%s failed", self._name)
                await asyncio.sleep(self.interval_s)

    async def renew_and_claim(
        self,
        held: Callable[[], Mapping[str, int]],
        *,
        claim: bool = True,
        also: Callable[[AsyncConnection, list[str]], Awaitable[None]] | None = None,
        on_claim: Callable[[list[Claimed]], Awaitable[None]] | None = None,
    ) -> Beat:
        """Renew what `held()` names (all this node's leases, unless `renew_held_only`), run
        `also(conn, keys)` in the same transaction, then claim (unless `claim` is false) and
        call `on_claim(claimed)` before the claims commit (to fence the events of the attempts
        they supersede)."""
        async with self.db.write() as conn:
            known = dict(held())  # read now: see the module docstring
            keys = list(known) if self._renew_held_only else None
            renewed = await self.leases.renew(conn, self.node, self.ttl_s, keys)
            if also is not None:
                await also(conn, list(known))
            found = Beat(known, renewed)
            if claim:
                found.claimed = await self.leases.claim(
                    conn, self.node, self.ttl_s, self._claim_batch
                )
                if found.claimed and on_claim is not None:
                    await on_claim(found.claimed)
        return found
