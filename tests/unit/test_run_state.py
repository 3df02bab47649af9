"""The run and step state machines: every (from, to) pair, timestamps and event names."""

from __future__ import annotations

import itertools
from typing import get_args

import pytest

from assistantd.run_steps.schemas import (
    MessageCreation,
    MessageCreationStepDetails,
    RunStep,
    RunStepStatus,
)
from assistantd.runs import state
from assistantd.runs.schemas import (
    FunctionCall,
    IncompleteDetails,
    LastError,
    RequiredAction,
    RequiredActionFunctionToolCall,
    RequiredActionSubmitToolOutputs,
    Run,
    RunStatus,
    Usage,
)

RUN_STATUSES: tuple[RunStatus, ...] = get_args(RunStatus)
STEP_STATUSES: tuple[RunStepStatus, ...] = get_args(RunStepStatus)
ALLOWED = {
    ("queued", "in_progress"),
    ("queued", "cancelling"),
    ("queued", "failed"),
    ("queued", "expired"),
    ("in_progress", "requires_action"),
    ("in_progress", "completed"),
    ("in_progress", "incomplete"),
    ("in_progress", "failed"),
    ("in_progress", "expired"),
    ("in_progress", "cancelling"),
    ("requires_action", "queued"),
    ("requires_action", "expired"),
    ("requires_action", "cancelling"),
    ("cancelling", "cancelled"),
    ("cancelling", "completed"),
    ("cancelling", "failed"),
    ("cancelling", "expired"),
    ("cancelling", "incomplete"),
}
ACTION = RequiredAction(
    submit_tool_outputs=RequiredActionSubmitToolOutputs(
        tool_calls=[
            RequiredActionFunctionToolCall(
                id="call_1", function=FunctionCall(name="f", arguments="{}")
            )
        ]
    )
)
COMPANIONS: dict[str, dict[str, object]] = {
    "failed": {"last_error": LastError(code="server_error", message="boom")},
    "incomplete": {"incomplete_details": IncompleteDetails(reason="max_prompt_tokens")},
    "requires_action": {"required_action": ACTION},
}


def make_run(status: RunStatus = "queued") -> Run:
    extra = {"required_action": ACTION} if status == "requires_action" else {}
    return Run(
        id="run_1",
        created_at=100,
        thread_id="thread_1",
        assistant_id="asst_1",
        model="gpt-4o",
        status=status,
        expires_at=700,
        **extra,
    )


@pytest.mark.parametrize(("source", "target"), list(itertools.product(RUN_STATUSES, repeat=2)))
def test_every_run_pair(source: RunStatus, target: RunStatus) -> None:
    run = make_run(source)
    changes = COMPANIONS.get(target, {})
    if (source, target) not in ALLOWED:
        with pytest.raises(state.IllegalTransition):
            state.advance(run, target, 200, **changes)
        return
    moved, event = state.advance(run, target, 200, **changes)
    assert moved.status == target
    assert event == f"thread.run.{target}"
    assert (moved.expires_at is None) == (target in state.TERMINAL)
    assert (moved.required_action is not None) == (target == "requires_action")
    stamp = {"completed": "completed_at", "failed": "failed_at", "cancelled": "cancelled_at"}
    for status, field in stamp.items():
        assert (getattr(moved, field) == 200) == (target == status)


def test_started_at_is_set_once() -> None:
    run, _ = state.advance(make_run(), "in_progress", 150)
    assert run.started_at == 150
    run, _ = state.advance(run, "requires_action", 160, required_action=ACTION)
    run, _ = state.advance(run, "queued", 170)
    run, _ = state.advance(run, "in_progress", 180)
    assert run.started_at == 150
    assert run.required_action is None


def test_companions_are_required_and_dicts_are_validated() -> None:
    running, _ = state.advance(make_run(), "in_progress", 150)
    targets: tuple[RunStatus, ...] = ("failed", "incomplete", "requires_action")
    for target in targets:
        with pytest.raises(state.IllegalTransition, match="needs"):
            state.advance(running, target, 160)
    done, _ = state.advance(
        running,
        "failed",
        160,
        last_error={"code": "rate_limit_exceeded", "message": "slow down"},
        usage={"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    )
    assert isinstance(done.last_error, LastError)
    assert done.usage == Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3)
    assert done.model_dump()["failed_at"] == 160


def test_terminal_and_transition_helpers() -> None:
    assert {s for s in RUN_STATUSES if state.is_terminal(s)} == state.TERMINAL
    assert state.can_transition("queued", "in_progress")
    assert not state.can_transition("completed", "queued")


def make_step(status: RunStepStatus = "in_progress") -> RunStep:
    return RunStep(
        id="step_1",
        created_at=100,
        assistant_id="asst_1",
        thread_id="thread_1",
        run_id="run_1",
        type="message_creation",
        status=status,
        step_details=MessageCreationStepDetails(
            message_creation=MessageCreation(message_id="msg_1")
        ),
    )


@pytest.mark.parametrize(("source", "target"), list(itertools.product(STEP_STATUSES, repeat=2)))
def test_every_step_pair(source: RunStepStatus, target: RunStepStatus) -> None:
    step = make_step(source)
    changes = {"last_error": {"code": "server_error", "message": "x"}} if target == "failed" else {}
    if source != "in_progress" or target == "in_progress":
        with pytest.raises(state.IllegalTransition):
            state.advance_step(step, target, 200, **changes)
        return
    moved, event = state.advance_step(step, target, 200, **changes)
    assert event == f"thread.run.step.{target}"
    stamps = {"completed_at", "failed_at", "cancelled_at", "expired_at"}
    set_stamps = {name for name in stamps if getattr(moved, name) is not None}
    assert set_stamps == {f"{target}_at"}


def test_failed_step_needs_last_error() -> None:
    with pytest.raises(state.IllegalTransition):
        state.advance_step(make_step(), "failed", 200)


def test_status_sets_partition_the_statuses() -> None:
    """The one definition of the run status sets: live ones hold the lock, the rest end."""
    assert set(state.ACTIVE) | state.TERMINAL == set(RUN_STATUSES)
    assert not set(state.ACTIVE) & state.TERMINAL
    assert set(state.RUNNING) == set(state.ACTIVE) - {"requires_action"}
    assert set(state.EXPIRABLE) == {"queued", "requires_action"}
    assert set(state.CANCELLABLE) == set(state.ACTIVE) - {"cancelling"}
    for end in get_args(state.RunEnd):
        assert end in state.RUN_TRANSITIONS["cancelling"]
