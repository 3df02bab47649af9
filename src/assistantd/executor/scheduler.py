"""The scheduler owns running runs: one asyncio task per run, recovery on boot, expiry.

In-process by design (one node, zero setup): a run is accepted once its row is committed, and
its task lives in this process. On boot, runs a previous process left unfinished are failed
with `server_error` (or cancelled, if a cancel was asked for) so no thread stays locked. A
sweeper expires runs left waiting for tool outputs past `expires_at`, and fails live runs that
have no task (one whose task died without writing its end, e.g. on a database error), so no
thread stays locked while the server runs either. On PostgreSQL the same interface sits on a
lease table for several nodes (`executor/leased.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db.engine import Database, background
from assistantd.events.broker import Broker
from assistantd.executor.loop import RunExecutor
from assistantd.run_steps.schemas import LastError
from assistantd.runs import endings, state, store
from assistantd.runs import fence as fencing
from assistantd.runs.fence import Fence
from assistantd.runs.state import RunEnd

log = logging.getLogger(__name__)

RESTART_MESSAGE = "The server restarted before the run finished."
ORPHAN_MESSAGE = "The server lost track of the run before it finished."


class Scheduler:
    def __init__(
        self, db: Database, broker: Broker, executor: RunExecutor, *, sweep_interval_s: float = 1.0
    ) -> None:
        self._db = db
        self._broker = broker
        self._executor = executor
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._sweep_interval_s = sweep_interval_s
        self._sweeper: asyncio.Task[None] | None = None
        self._orphans: set[str] = set()  # running runs without a task at the last sweep
        self.draining = False  # SIGTERM: new runs are refused (503) while running ones finish

    async def start(self) -> None:
        await self.recover()
        self._sweeper = asyncio.create_task(self._sweep_forever(), name="run-expiry-sweeper")

    async def stop(self) -> None:
        self._executor.shutting_down = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def drain(self, window_s: float) -> None:
        """Stop taking runs and give the running ones up to `window_s` to finish; `stop` then
        ends (one node) or hands over (several) what is left."""
        self.draining = True
        deadline = time.monotonic() + window_s
        while self._tasks and (left := deadline - time.monotonic()) > 0:
            await asyncio.wait(list(self._tasks.values()), timeout=left)

    def in_flight(self) -> int:
        """Runs with a task in this process (for the metrics)."""
        return len(self._tasks)

    def schedule(self, run_id: str) -> None:
        """Run (or resume) `run_id` in the background; its row is committed."""
        self._spawn(run_id, self._executor.execute(run_id))

    def submit(self, run_id: str, attempt: int | None = None) -> None:
        """`schedule`, for the outbox (`attempt`: a lease `take_in` took; none here)."""
        self.schedule(run_id)

    async def take_in(self, conn: AsyncConnection, run_id: str) -> int | None:
        """One process: there are no leases to take."""
        return None

    def _spawn(self, run_id: str, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work, name=f"run:{run_id}")
        self._tasks[run_id] = task
        task.add_done_callback(lambda _: self._forget(run_id, task))

    def cancel(self, run_id: str) -> None:
        """The run is now `cancelling`: stop its task, which closes what is open."""
        if not self.cancel_local(run_id):
            self.schedule(run_id)  # nothing running (e.g. after a restart): finish the cancel

    def cancel_local(self, run_id: str) -> bool:
        """Stop the run's task if this process executes it (the handler of cancel signals
        from other processes, `events.cancels`); False when it has no live task here."""
        task = self._tasks.get(run_id)
        if task is None or task.done():
            return False
        task.cancel()
        return True

    def _forget(self, run_id: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(run_id) is task:
            del self._tasks[run_id]
        if not task.cancelled() and task.exception() is not None:
            log.error("run task %s crashed", run_id, exc_info=task.exception())

    # --- recovery and expiry ---------------------------------------------------------------------

    async def recover(self) -> None:
        async with self._db.read() as conn:
            stale = await store.ids_with_status(conn, state.RUNNING)
        for run_id in stale:
            try:
                await self._end(
                    run_id, "failed", LastError(code="server_error", message=RESTART_MESSAGE)
                )
            except Exception:  # one broken run must not stop the start-up
                log.exception("could not close run %s left unfinished", run_id)

    async def _sweep_forever(self) -> None:
        with background():
            await self._sweep_loop()

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_interval_s)
            with contextlib.suppress(Exception):
                await self.sweep_expired()
            with contextlib.suppress(Exception):
                await self.sweep_orphans()

    async def sweep_expired(self) -> None:
        async with self._db.read() as conn:
            due = await store.expired_ids(conn, int(time.time()))
        for run_id in due:
            if run_id not in self._tasks:
                await self._end(run_id, "expired", None)

    async def sweep_orphans(self) -> None:
        """Fail running runs that had no task at this sweep and the one before (a run is
        committed a moment before its task starts, so one sighting is not enough)."""
        async with self._db.read() as conn:
            running = await store.ids_with_status(conn, state.RUNNING)
        orphans = {run_id for run_id in running if run_id not in self._tasks}
        for run_id in orphans & self._orphans:
            log.error("run %s has no task; failing it", run_id)
            await self._end(
                run_id, "failed", LastError(code="server_error", message=ORPHAN_MESSAGE)
            )
        self._orphans = orphans - self._orphans

    async def _end(
        self, run_id: str, to: RunEnd, error: LastError | None, fence: Fence | None = None
    ) -> None:
        """Close a run that has no task: its open steps and messages, then the run itself
        (with `fence`, as the attempt that holds its lease, which it then gives up)."""
        with contextlib.suppress(endings.ChangedMeanwhile):  # rolled back; the next sweep looks
            await self._end_once(run_id, to, error, fence)

    async def _end_once(
        self, run_id: str, to: RunEnd, error: LastError | None, fence: Fence | None
    ) -> None:
        async with fencing.write(self._db, fence) as conn:
            loaded = await store.get_by_id(conn, run_id)
            if loaded is None or state.is_terminal(loaded[1].status):
                return
            ending = await endings.end_run(conn, loaded[1], to, int(time.time()), error)
            if fence is not None:
                await fence.release(conn)
        self._executor.observe_status(ending.run.status)
        for event in ending.events():
            self._broker.publish(run_id, event)
