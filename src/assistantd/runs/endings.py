"""One way to end a run from outside its normal course: close what it left open, then end it.

A cancel, a failure or an expiry ends a run the same way wherever it happens (the executor's
task, the scheduler's recovery and sweeps, a cancel request on a run waiting for tool outputs):
its `in_progress` steps end with it (`cancelled`, `failed` with the run's error, `expired`), its
`in_progress` messages end `incomplete` (`run_cancelled`, `run_failed`, `run_expired`), then the
run moves to its end status. Every write is a compare-and-set on the status it was read in, in
the caller's transaction; the caller publishes the events once it has committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db import documents
from assistantd.events import models as ev
from assistantd.messages import store as messages_store
from assistantd.messages.state import advance_message, end_reason
from assistantd.run_steps import store as steps_store
from assistantd.run_steps.schemas import LastError, RunStep
from assistantd.runs import events as run_events
from assistantd.runs import state, store
from assistantd.runs.schemas import Run
from assistantd.runs.state import RunEnd, StepAdvance


class ChangedMeanwhile(Exception):
    """The run (or one of its steps) changed between its read and its write: roll back."""


@dataclass
class Ending:
    """A run ended: as stored, with the steps closed on the way (as stored)."""

    run: Run
    event: str  # "thread.run.<status>"
    steps: list[StepAdvance] = field(default_factory=list)

    def events(self) -> list[ev.StreamEvent]:
        """What announces the ending, in order: the steps closed, then the run."""
        closed = [ev.step_event(name, step) for step, name in self.steps]
        return [*closed, run_events.run_event(self.event, self.run)]


def end_status(run: Run, to: RunEnd) -> RunEnd:
    """A run being cancelled ends `cancelled`, whatever else ends it."""
    return "cancelled" if run.status == "cancelling" else to


def close_step(step: RunStep, to: RunEnd, now: int, error: LastError | None) -> StepAdvance:
    """`step` ended with its run (a failed step carries the run's error)."""
    if to == "failed":
        return state.advance_step(step, to, now, last_error=error)
    return state.advance_step(step, to, now)


async def close_open(
    conn: AsyncConnection,
    run_id: str,
    to: RunEnd,
    now: int,
    error: LastError | None = None,
    *,
    strict: bool = False,
) -> list[StepAdvance]:
    """End the run's `in_progress` steps and messages as a run ending `to`; returns the steps
    closed, as stored. A step another writer moved meanwhile is left alone, or with `strict`
    raises `ChangedMeanwhile`."""
    closed: list[StepAdvance] = []
    for step in await steps_store.for_run(conn, run_id):
        if step.status != "in_progress":
            continue
        ended, name = close_step(step, to, now, error)
        saved = await steps_store.patch(
            conn, step.id, documents.changed(step, ended), expect={"status": step.status}
        )
        if saved is not None:
            closed.append(StepAdvance(saved, name))
        elif strict:
            raise ChangedMeanwhile(f"step {step.id} changed meanwhile")
    reason = end_reason(to)
    for message in await messages_store.of_run(conn, run_id):
        if message.status == "in_progress":
            ended_message = advance_message(message, "incomplete", now, reason=reason)
            await messages_store.patch(
                conn,
                message.id,
                documents.changed(message, ended_message),
                expect={"status": "in_progress"},
            )
    return closed


async def end_run(
    conn: AsyncConnection, run: Run, to: RunEnd, now: int, error: LastError | None = None
) -> Ending:
    """Close what `run` (as read in this transaction) left open, then end it `to` (`cancelled`
    if it was being cancelled). Raises `ChangedMeanwhile` if its status moved since the read."""
    target = end_status(run, to)
    steps = await close_open(conn, run.id, target, now, error)
    if target == "failed" and error is not None:
        ended, name = state.advance(run, target, now, last_error=error.model_dump())
    else:
        ended, name = state.advance(run, target, now)
    written = await store.patch(
        conn, run.id, documents.changed(run, ended), expected_status=run.status
    )
    if written is None:
        raise ChangedMeanwhile(f"run {run.id} changed meanwhile")
    return Ending(written, name, steps)
