"""THE run and run-step state machines: allowed transitions, timestamps, the event each emits.

Pure: no I/O, no clock. Service, executor and scheduler change a run's or a step's status only
through `advance` / `advance_step`, which return the updated object and the name of the stream
event to publish with it.

    queued ──> in_progress ──> completed | incomplete | failed | expired
       │            ├──> requires_action ──> queued (outputs submitted) | expired
       │            └──> cancelling ──> cancelled (or whatever the run reached first)
       └──> cancelling / failed (crash recovery, validation) / expired
    requires_action ──> cancelling
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple, TypeVar

from pydantic import BaseModel

from assistantd.run_status import ACTIVE as ACTIVE  # statuses that hold the thread lock
from assistantd.run_steps.schemas import RunStep, RunStepStatus
from assistantd.runs.schemas import Run, RunStatus

_M = TypeVar("_M", bound=BaseModel)


class IllegalTransition(ValueError):
    """A status change the state machine does not allow (a bug in the caller, or a race)."""


TERMINAL: frozenset[RunStatus] = frozenset(
    {"completed", "failed", "cancelled", "expired", "incomplete"}
)
"""Statuses a run never leaves. Everything else holds the thread lock."""

RUNNING: tuple[RunStatus, ...] = ("queued", "in_progress", "cancelling")
"""Statuses in which a run needs a task to move on (`requires_action` waits for the client)."""

EXPIRABLE: tuple[RunStatus, ...] = ("queued", "requires_action")
"""Statuses in which a run expires once `expires_at` has passed."""

CANCELLABLE: tuple[RunStatus, ...] = ("queued", "in_progress", "requires_action")
"""Statuses a cancel request is accepted in."""

RunEnd = Literal["cancelled", "failed", "expired"]
"""How a run is ended from outside its normal course (cancel, failure, expiry)."""

RUN_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    "queued": frozenset({"in_progress", "cancelling", "failed", "expired"}),
    "in_progress": frozenset(
        {"requires_action", "completed", "incomplete", "failed", "expired", "cancelling"}
    ),
    "requires_action": frozenset({"queued", "expired", "cancelling"}),
    # Cancellation "is attempted but not guaranteed": the run may finish first.
    "cancelling": frozenset({"cancelled", "completed", "failed", "expired", "incomplete"}),
    "completed": frozenset(),
    "failed": frozenset(),
    "cancelled": frozenset(),
    "expired": frozenset(),
    "incomplete": frozenset(),
}

STEP_TERMINAL: frozenset[RunStepStatus] = frozenset({"completed", "failed", "cancelled", "expired"})
STEP_TRANSITIONS: dict[RunStepStatus, frozenset[RunStepStatus]] = {
    "in_progress": STEP_TERMINAL,
    **{status: frozenset() for status in STEP_TERMINAL},
}

# Terminal status -> the timestamp field it sets.
_RUN_STAMPS: dict[str, str] = {
    "completed": "completed_at",
    "failed": "failed_at",
    "cancelled": "cancelled_at",
}
_STEP_STAMPS: dict[str, str] = {
    "completed": "completed_at",
    "failed": "failed_at",
    "cancelled": "cancelled_at",
    "expired": "expired_at",
}


class RunAdvance(NamedTuple):
    run: Run
    event: str  # "thread.run.<status>"


class StepAdvance(NamedTuple):
    step: RunStep
    event: str  # "thread.run.step.<status>"


def is_terminal(status: RunStatus) -> bool:
    return status in TERMINAL


def can_transition(current: RunStatus, to: RunStatus) -> bool:
    return to in RUN_TRANSITIONS[current]


def run_event(status: RunStatus) -> str:
    return f"thread.run.{status}"


def advance(run: Run, to: RunStatus, now: int, **changes: Any) -> RunAdvance:
    """Move `run` to `to` at unix time `now`; `changes` sets other fields in the same step.

    Required companions: `failed` needs `last_error`, `incomplete` needs `incomplete_details`,
    `requires_action` needs `required_action`. `usage` is the caller's to pass (once terminal).
    """
    if not can_transition(run.status, to):
        raise IllegalTransition(f"run {run.id}: {run.status} -> {to} is not allowed")
    _check_companions(run, to, changes)
    update: dict[str, Any] = {"status": to, **changes}
    if to == "in_progress" and run.started_at is None:
        update["started_at"] = now
    if to != "requires_action":
        update.setdefault("required_action", None)
    if to in _RUN_STAMPS:
        update[_RUN_STAMPS[to]] = now
    if to in TERMINAL:
        update["expires_at"] = None
    return RunAdvance(_updated(run, update), run_event(to))


def _updated(obj: _M, update: dict[str, Any]) -> _M:
    # Re-validate rather than model_copy, so dicts passed as changes become typed models.
    data = obj.model_dump(by_alias=True)
    data.update(update)
    return type(obj).model_validate(data)


def _check_companions(run: Run, to: RunStatus, changes: dict[str, Any]) -> None:
    needed = {
        "failed": "last_error",
        "incomplete": "incomplete_details",
        "requires_action": "required_action",
    }.get(to)
    if needed and changes.get(needed) is None:
        raise IllegalTransition(f"run {run.id}: moving to {to} needs {needed}")


def advance_step(step: RunStep, to: RunStepStatus, now: int, **changes: Any) -> StepAdvance:
    """Move a step to `to` at unix time `now` (`failed` needs `last_error`)."""
    if to not in STEP_TRANSITIONS[step.status]:
        raise IllegalTransition(f"step {step.id}: {step.status} -> {to} is not allowed")
    if to == "failed" and changes.get("last_error") is None:
        raise IllegalTransition(f"step {step.id}: moving to failed needs last_error")
    update: dict[str, Any] = {"status": to, _STEP_STAMPS[to]: now, **changes}
    return StepAdvance(_updated(step, update), f"thread.run.step.{to}")
