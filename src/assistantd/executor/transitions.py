"""A running run's writes and their events: status changes (compare-and-set on the stored status,
so a concurrent cancel is never lost, written before their event is published), the endings
(incomplete, failed, stopped by a cancel or by shutdown) and the closing of its steps."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Literal

from assistantd.clock import unix_now
from assistantd.db import documents
from assistantd.db.engine import Database
from assistantd.events import models as ev
from assistantd.events.broker import Broker
from assistantd.executor.run_context import RunContext, RunEnded
from assistantd.executor.thread_context import ThreadRows, read_thread
from assistantd.observability import Metrics
from assistantd.run_steps import service as steps_service
from assistantd.run_steps.schemas import LastError, RunStep, RunStepStatus
from assistantd.runs import endings, state, store
from assistantd.runs import events as run_events
from assistantd.runs import fence as fencing
from assistantd.runs.fence import Fence, Fenced
from assistantd.runs.schemas import IncompleteDetails, Run, RunStatus
from assistantd.runs.state import RunEnd


@dataclass(frozen=True)
class Started:
    """A run as its execution found it (`RunTransitions.start`)."""

    project: str
    run: Run
    thread: ThreadRows | None = None  # the thread as read at the start, for the first context


class RunTransitions:
    def __init__(
        self,
        db: Database,
        broker: Broker,
        metrics: Metrics | None,
        includes: dict[str, list[str]],
    ) -> None:
        self._db = db
        self._broker = broker
        self._metrics = metrics
        self._includes = includes  # run id -> `include[]` of its create request

    # --- endings ---------------------------------------------------------------------------------

    async def incomplete(
        self, ctx: RunContext, reason: Literal["max_completion_tokens", "max_prompt_tokens"]
    ) -> None:
        await self.advance(ctx, "incomplete", incomplete_details=IncompleteDetails(reason=reason))
        raise RunEnded

    async def fail(self, ctx: RunContext, code: str, message: str) -> None:
        error = LastError(
            code=code if code != "invalid_prompt" else "server_error", message=message
        )
        if ctx.turn is not None:
            await ctx.turn.abort("failed", error)
            ctx.turn = None
        await self._close_open_steps(ctx, "failed", error)
        if not state.is_terminal(ctx.run.status):
            await self.advance(ctx, "failed", last_error={"code": code, "message": message})

    async def fail_unless_fenced(self, ctx: RunContext, code: str, message: str) -> None:
        if ctx.fence is not None and ctx.fence.stopped:
            return
        with contextlib.suppress(Fenced):
            await self.fail(ctx, code, message)

    async def stopped(self, ctx: RunContext) -> None:
        """The task was cancelled: by a user's cancel (the run is `cancelling`) or by shutdown."""
        async with self._db.read() as conn:
            loaded = await store.get_by_id(conn, ctx.run.id)
        if loaded is None or state.is_terminal(loaded[1].status):
            return
        ctx.run = ctx.stored = loaded[1]
        if ctx.tool is not None:
            runner, context = ctx.tool
            with contextlib.suppress(Exception):  # best effort: the run ends either way
                await runner.interrupt(context)
        if ctx.run.status != "cancelling":
            await self.fail(ctx, "server_error", "The server stopped before the run finished.")
            return
        if ctx.turn is not None:
            await ctx.turn.abort("cancelled")
        await self._close_open_steps(ctx, "cancelled", None)
        await self.advance(ctx, "cancelled")

    async def _close_open_steps(self, ctx: RunContext, to: RunEnd, error: LastError | None) -> None:
        """What the turn did not close (e.g. a tool step whose tool was running) ends too."""
        async with ctx.writer.transaction() as conn:  # fenced: a stale attempt closes nothing
            await ctx.writer.flush(conn)
            closed = await endings.close_open(conn, ctx.run.id, to, unix_now(), error)
        include = self._includes.get(ctx.run.id)
        for step, name in closed:
            self._broker.publish(
                ctx.run.id, ev.step_event(name, steps_service.shown(step, include))
            )

    async def close_step(self, ctx: RunContext, step: RunStep, to: RunStepStatus) -> None:
        closed, name = state.advance_step(step, to, unix_now())
        await ctx.writer.save(closed, read=step)
        await ctx.writer.flush()
        self._broker.publish(
            ctx.run.id,
            ev.step_event(name, steps_service.shown(closed, self._includes.get(ctx.run.id))),
        )

    # --- state and storage -----------------------------------------------------------------------

    async def start(self, run_id: str, fence: Fence | None) -> Started | None:
        """Load the run and, if it is `queued`, mark it `in_progress` in the same (fenced)
        transaction: one transaction before the model call instead of a read and a write. On
        PostgreSQL the thread's messages and steps are read in it too, for the first model
        call (a read transaction fewer; the thread takes no message while its run is active).
        The run as stored now, or None when the run is gone or over."""
        thread = None
        async with fencing.write(self._db, fence) as conn:
            loaded = await store.get_by_id(conn, run_id)
            if loaded is None or state.is_terminal(loaded[1].status):
                return None
            project, run = loaded
            if run.status != "queued":
                return Started(project, run)  # e.g. `cancelling` (the loop finishes the cancel)
            moved, name = state.advance(run, "in_progress", unix_now())
            diff = documents.changed(run, moved)
            stored = await store.patch(conn, run_id, diff, expected_status="queued", read=run)
            if stored is None:  # changed since the read (a cancel): as it is now
                again = await store.get_by_id(conn, run_id)
                return None if again is None else Started(*again)
            if not self._db.is_sqlite:  # (SQLite: not under its one write lock)
                thread = await read_thread(conn, run.thread_id)
        self._broker.publish(run_id, run_events.run_event(name, stored))
        self.observe_status("in_progress")
        return Started(project, stored, thread)

    async def advance(self, ctx: RunContext, to: RunStatus, **changes: Any) -> None:
        """Write the transition (compare-and-set), then publish it. If a cancel got in first,
        the run is `cancelling` and moves on from there."""
        while True:
            before = ctx.run.status
            run, name = state.advance(ctx.run, to, unix_now(), **changes)
            assert ctx.stored is not None
            # Only what this run changed is written (metadata modified meanwhile stays).
            diff = documents.changed(ctx.stored, run)
            # the writer's transaction: no timed flush of this run is under way until it commits;
            # with a fence, it proves this execution still holds the run's lease
            async with ctx.writer.transaction() as conn:
                stored = await store.patch(
                    conn, run.id, diff, expected_status=before, read=ctx.stored
                )
                if stored is not None:
                    await ctx.writer.flush(conn)  # what the run made, with its new status
                    if ctx.fence is not None and _stops_running(to):
                        await ctx.fence.release(conn)  # another node may resume it now
                    break
                loaded = await store.get_by_id(conn, run.id)
            assert loaded is not None
            current = loaded[1]
            if not state.can_transition(current.status, to):
                raise RunEnded  # e.g. cancelled meanwhile
            ctx.run = ctx.run.model_copy(update={"status": current.status})
        ctx.run = ctx.stored = run = stored
        self._broker.publish(run.id, run_events.run_event(name, run))
        self.observe_status(to)

    def observe_status(self, status: str) -> None:
        """Count a run entering `status` (the scheduler reports the runs it closes)."""
        if self._metrics is not None:
            self._metrics.runs.labels(status).inc()

    def publisher(self, run: Run) -> Any:
        return lambda event: self._broker.publish(run.id, event)

    async def save_step(self, ctx: RunContext, step: RunStep) -> None:
        """Save now (through the write-behind queue, so no older copy can overwrite it)."""
        await ctx.writer.save(step)
        await ctx.writer.flush()


def _stops_running(status: RunStatus) -> bool:
    """The run leaves the executor: it ended, or it waits for the client's tool outputs."""
    return status == "requires_action" or state.is_terminal(status)
