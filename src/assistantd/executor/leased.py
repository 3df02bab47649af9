"""The scheduler on PostgreSQL: runs are leased jobs, so N processes (one machine or many)
share one database.

* `schedule(run_id)` on a node that executes runs takes the run's lease (`run_leases`) and
  runs it here, so the node that accepted a streamed run also executes it; an API-only node
  offers it instead, and an executing node claims it within a heartbeat.
* Each node's heartbeat (every `lease_heartbeat_s`) renews the leases of the runs it executes
  (a run stays one until its lease's release has committed or failed: one whose task ended
  without giving its lease up, e.g. on a database outage, expires and is taken over), notices
  runs a client asked to cancel on any node (the run's status is `cancelling`: the task is
  cancelled, which aborts the upstream request and interrupts the sandbox call), notices
  leases it lost, and claims runs whose lease expired (their node died, or their task) with
  `FOR UPDATE SKIP LOCKED`.
* A run taken over is executed again from what its last attempt committed when that is safe
  (nothing of it was under way: queued, cancelling, or between model calls), else failed with
  `server_error` (a model answer or a tool call was under way; re-running it could repeat a
  side effect or give the thread a second answer).
* Every write of an execution carries its attempt (`runs/fence.py`), so the node that lost
  a run can never write to it again; so does every event it publishes on Redis (a claim or a
  take raises the run's attempt there before it commits: `Broker.supersede`).
* Start-up touches nothing another node holds; `stop` hands what this node still runs to the
  others at once (offered leases) instead of failing it.

Why our own lease table rather than a job library: see docs/scaling.md ("Runs as leased jobs").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db.engine import Database, background
from assistantd.events.broker import Broker, LocalBroker
from assistantd.executor.loop import RunExecutor
from assistantd.executor.scheduler import Scheduler
from assistantd.leases.heartbeat import Heartbeat
from assistantd.leases.store import Claimed
from assistantd.messages import store as messages_store
from assistantd.run_steps import store as steps_store
from assistantd.run_steps.schemas import LastError
from assistantd.runs import lease_store, store
from assistantd.runs.fence import Fence
from assistantd.runs.lease_store import LEASES

log = logging.getLogger(__name__)

TAKEOVER_MESSAGE = "The server running the run stopped while it was under way."
ADOPT_GRACE_S = 5.0  # an accepted run no node took gets this long before it is offered
CLAIM_BATCH = 32


def node_name() -> str:
    """Unique per process: host, pid and a random part (a restarted pid is another node)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class LeasedScheduler(Scheduler):
    def __init__(
        self,
        db: Database,
        broker: Broker,
        executor: RunExecutor,
        *,
        ttl_s: float = 10.0,
        heartbeat_s: float = 1.0,
        executes: bool = True,
        node: str | None = None,
        sweep_interval_s: float = 1.0,
    ) -> None:
        super().__init__(db, broker, executor, sweep_interval_s=sweep_interval_s)
        self.node = node or node_name()
        self._ttl_s = ttl_s
        self._heartbeat_s = heartbeat_s
        self._executes = executes
        self._fences: dict[str, Fence] = {}
        self._heart = Heartbeat(
            db,
            LEASES,
            node=self.node,
            ttl_s=ttl_s,
            interval_s=heartbeat_s,
            name="run-heartbeat",
            claim_batch=CLAIM_BATCH,
        )
        self._beats = 0
        self._stopping: set[asyncio.Task[None]] = set()  # tasks already told to stop

    async def start(self) -> None:
        # No recovery: what another node holds is its own; what a dead node held expires.
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="run-expiry-sweeper")
        if self._executes:
            self._heart.start(self._beat)

    def schedule(self, run_id: str) -> None:
        if not self._executes:
            self._spawn(run_id, self._offer(run_id))
        elif run_id not in self._tasks:
            self._spawn(run_id, self._take_and_run(run_id))

    async def take_in(self, conn: AsyncConnection, run_id: str) -> int | None:
        """Take the lease in the transaction that queues the run (it commits with the run:
        one commit fewer before the model call). Nothing on an API-only or draining node, or
        when this node already has a task for the run (`schedule` then decides, as before)."""
        if not self._executes or self.draining or run_id in self._tasks:
            return None
        attempt = await LEASES.take(conn, run_id, self.node, self._ttl_s)
        await self._supersede(run_id, attempt)
        return attempt

    def submit(self, run_id: str, attempt: int | None = None) -> None:
        """Execute the run here; `attempt`: its lease was taken (committed) with the run."""
        if attempt is None:
            self.schedule(run_id)
            return
        fence = Fence(run_id, self.node, attempt)
        self._fences[run_id] = fence  # held from now on: the heartbeat renews and checks it
        self._spawn(run_id, self._run(fence))

    def cancel(self, run_id: str) -> None:
        """The run is `cancelling`: stop it here if it runs here; a node that runs it sees the
        status at its next heartbeat (or the Redis cancel signal, `cancel_local`); a run no
        node holds is taken here to finish the cancel."""
        task = self._tasks.get(run_id)
        if task is not None and not task.done():
            self.cancel_local(run_id)
            return  # (still taking the lease: the executor sees `cancelling` when it loads)
        self.schedule(run_id)

    def cancel_local(self, run_id: str) -> bool:
        """Stop the run's task if this node executes it (the handler of cancel signals)."""
        if run_id not in self._fences:
            return False
        self._cancel_task(run_id)
        return True

    async def stop(self) -> None:
        """Hand what is still running to the other nodes (offered now), without writing."""
        self.draining = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        await self._heart.stop()
        tasks = list(self._tasks.values())
        for fence in self._fences.values():
            fence.handed = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # The tasks' own releases were skipped (handed): offer the leases in one transaction.
        handed = list(self._fences.values())
        with contextlib.suppress(Exception):
            async with self._db.write() as conn:
                for fence in handed:
                    await LEASES.release(conn, fence.run_id, fence.node, fence.attempt, offer=True)
        self._fences.clear()
        if isinstance(self._broker, LocalBroker):  # its streams are served here only: they end
            for fence in handed:  # cleanly (with a shared broker they go on from the next node)
                self._broker.close(fence.run_id)

    async def sweep_orphans(self) -> None:
        """Other nodes' runs have no task here: leases, not tasks, say who runs what."""

    # --- one run ----------------------------------------------------------------------------------

    async def _offer(self, run_id: str) -> None:
        with background():
            async with self._db.write() as conn:
                await LEASES.offer(conn, run_id)

    async def _take_and_run(self, run_id: str) -> None:
        with background():
            async with self._db.write() as conn:
                attempt = await LEASES.take(conn, run_id, self.node, self._ttl_s)
                await self._supersede(run_id, attempt)
        if attempt is None:
            return  # a live node holds it (it sees a cancel through its heartbeat)
        await self._run(Fence(run_id, self.node, attempt))

    async def _supersede(self, run_id: str, attempt: int | None) -> None:
        """A take after an earlier attempt (whose node may still be running it, if its lease
        had expired): that attempt's events are refused from now on (before this commits)."""
        if attempt is not None and attempt > 1:
            await self._broker.supersede({run_id: attempt})

    async def _run(self, fence: Fence, *, taken_over: bool = False) -> None:
        self._fences[fence.run_id] = fence
        self._broker.fence(fence.run_id, fence.attempt)  # its events are fenced as its writes
        try:
            if taken_over and not await self._safe_to_resume(fence.run_id):
                log.warning("run %s was taken over mid-step; failing it", fence.run_id)
                error = LastError(code="server_error", message=TAKEOVER_MESSAGE)
                with background():
                    await self._end(fence.run_id, "failed", error, fence)
                return
            await self._executor.execute(fence.run_id, fence)
        finally:
            await self._let_go(fence)

    async def _let_go(self, fence: Fence) -> None:
        """The execution is over: give its lease up unless that was committed already (with
        the run's last status) or is not ours to give (lost, or handed over by `stop`). The
        run stays in `_fences`, so its lease is renewed, until that release has committed or
        failed: dropped earlier, a release waiting for a pooled connection would let the
        lease expire and this node take its own finished run over. Once dropped it is no
        longer renewed: a run whose end and release both failed (a long database outage)
        expires and is taken over when the database is back, its stream ended then."""
        if fence.handed or self._fences.get(fence.run_id) is not fence:
            return  # `stop` offers it
        try:
            if not fence.lost and not fence.let_go:
                fence.released = True  # (the heartbeat no longer calls it lost meanwhile)
                with background(), contextlib.suppress(Exception):
                    async with self._db.write() as conn:  # e.g. the run was already over
                        await LEASES.release(conn, fence.run_id, fence.node, fence.attempt)
        finally:
            if not fence.handed and self._fences.get(fence.run_id) is fence:
                del self._fences[fence.run_id]
                self._broker.unfence(fence.run_id)

    async def _safe_to_resume(self, run_id: str) -> bool:
        """A run can run again from its committed state unless something of it was under way:
        an open step or message (a model answer or a tool call, possibly with side effects),
        or a finished answer its run never recorded (running it again would answer twice)."""
        async with self._db.read() as conn:
            loaded = await store.get_by_id(conn, run_id)
            if loaded is None:
                return True  # gone: the executor does nothing
            if loaded[1].status in ("queued", "cancelling"):
                return True
            steps = await steps_store.for_run(conn, run_id)
            messages = await messages_store.of_run(conn, run_id)
        if any(step.status == "in_progress" for step in steps):
            return False
        if any(message.status == "in_progress" for message in messages):
            return False
        if not steps:
            return not messages
        last = max(steps, key=lambda step: (step.created_at, step.id))
        return last.type == "tool_calls" and last.status == "completed"

    # --- heartbeat --------------------------------------------------------------------------------

    async def _beat(self) -> None:
        self._beats += 1
        if not self.draining and self._beats % 5 == 1:
            async with self._db.write() as conn:
                await lease_store.adopt_unleased(conn, ADOPT_GRACE_S)
        cancelling: list[str] = []

        async def also(conn: AsyncConnection, run_ids: list[str]) -> None:
            cancelling.extend(await lease_store.cancelling(conn, run_ids))

        fences: dict[str, Fence] = {}

        def held() -> dict[str, int]:
            fences.update(self._fences)  # (their leases are committed: see leases/heartbeat.py)
            return {run_id: fence.attempt for run_id, fence in fences.items()}

        async def on_claim(claimed: list[Claimed]) -> None:
            await self._broker.supersede({c.key: c.attempt for c in claimed})

        beat = await self._heart.renew_and_claim(
            held, claim=not self.draining, also=also, on_claim=on_claim
        )
        for run_id in beat.lost():
            fence = fences[run_id]
            if not fence.stopped:
                log.warning("lost the lease of run %s (attempt %d)", run_id, fence.attempt)
                fence.lost = True
                self._cancel_task(run_id)
        for run_id in cancelling:
            self._cancel_task(run_id)
        for claimed in beat.claimed:
            log.info("took over run %s (attempt %d)", claimed.key, claimed.attempt)
            fence = Fence(claimed.key, self.node, claimed.attempt)
            self._spawn(claimed.key, self._run(fence, taken_over=True))

    def _cancel_task(self, run_id: str) -> None:
        """Cancel the run's task once (a second cancel would cut its shielded clean-up off)."""
        task = self._tasks.get(run_id)
        if task is not None and not task.done() and task not in self._stopping:
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)
            task.cancel()
