"""Run, run-step and delta payloads validated against the spec's component schemas.

Uses the lead's `tests/support/spec.py` (the contract oracle); skipped where it is absent.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from assistantd.events import models as ev
from assistantd.events.sse import encode
from assistantd.messages.deltas import MessageDelta, MessageDeltaEvent, TextDelta, TextDeltaBlock
from assistantd.run_steps import schemas as rs
from assistantd.runs import events as run_events
from assistantd.runs import state
from assistantd.runs.schemas import Run
from tests.support import spec

RUN: dict[str, Any] = {
    "id": "run_1",
    "created_at": 100,
    "thread_id": "thread_1",
    "assistant_id": "asst_1",
    "model": "gpt-4o",
    "instructions": "Be brief.",
    "expires_at": 700,
    "tools": [
        {"type": "code_interpreter"},
        {"type": "function", "function": {"name": "f", "description": "d", "parameters": {}}},
    ],
}


def data_of(event: ev.StreamEvent) -> Any:
    return json.loads(encode(event).split(b"\ndata: ", 1)[1])


def run_variants() -> list[Run]:
    queued = Run.model_validate(RUN)
    running, _ = state.advance(queued, "in_progress", 101)
    action = {
        "submit_tool_outputs": {
            "tool_calls": [{"id": "call_1", "function": {"name": "f", "arguments": "{}"}}]
        }
    }
    waiting, _ = state.advance(running, "requires_action", 102, required_action=action)
    failed, _ = state.advance(
        running, "failed", 103, last_error={"code": "server_error", "message": "x"}
    )
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    incomplete, _ = state.advance(
        running, "incomplete", 103, incomplete_details={"reason": "max_prompt_tokens"}, usage=usage
    )
    named = Run.model_validate(
        {
            **RUN,
            "tool_choice": {"type": "function", "function": {"name": "f"}},
            "truncation_strategy": {"type": "last_messages", "last_messages": 3},
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "s", "description": "d", "schema": {}, "strict": True},
            },
            "temperature": 0.5,
            "top_p": 1.0,
            "max_prompt_tokens": 500,
        }
    )
    file_search = Run.model_validate({**RUN, "tool_choice": {"type": "file_search"}})
    return [queued, running, waiting, failed, incomplete, named, file_search]


@pytest.mark.parametrize("run", run_variants(), ids=lambda r: r.status)
def test_run_objects(run: Run) -> None:
    spec.validate_component("RunObject", data_of(run_events.ThreadRunCreated(data=run)))


def steps() -> list[rs.RunStep]:
    common = {"id": "step_1", "created_at": 1, "assistant_id": "a", "thread_id": "t", "run_id": "r"}
    message = rs.RunStep.model_validate(
        {
            **common,
            "type": "message_creation",
            "step_details": {
                "type": "message_creation",
                "message_creation": {"message_id": "msg_1"},
            },
        }
    )
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
        {
            "id": "call_2",
            "type": "code_interpreter",
            "code_interpreter": {
                "input": "print(1)",
                "outputs": [
                    {"type": "logs", "logs": "1\n"},
                    {"type": "image", "image": {"file_id": "file-1"}},
                ],
            },
        },
        {"id": "call_3", "type": "file_search", "file_search": {}},
        {
            "id": "call_4",
            "type": "file_search",
            "file_search": {
                "ranking_options": {"ranker": "auto", "score_threshold": 0.0},
                "results": [
                    {
                        "file_id": "file-1",
                        "file_name": "a.txt",
                        "score": 0.5,
                        "content": [{"type": "text", "text": "hi"}],
                    }
                ],
            },
        },
    ]
    tools = rs.RunStep.model_validate(
        {
            **common,
            "type": "tool_calls",
            "step_details": {"type": "tool_calls", "tool_calls": calls},
        }
    )
    done, _ = state.advance_step(
        tools, "completed", 5, usage={"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    )
    failed, _ = state.advance_step(
        message, "failed", 5, last_error={"code": "rate_limit_exceeded", "message": "x"}
    )
    return [message, tools, done, failed]


@pytest.mark.parametrize("step", steps(), ids=lambda s: f"{s.type}-{s.status}")
def test_run_step_objects(step: rs.RunStep) -> None:
    spec.validate_component("RunStepObject", data_of(ev.ThreadRunStepCreated(data=step)))


def step_deltas() -> list[rs.RunStepDeltaEvent]:
    header = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "f", "arguments": ""},
    }
    code = {
        "index": 1,
        "type": "code_interpreter",
        "code_interpreter": {"input": "x", "outputs": [{"index": 0, "type": "logs", "logs": "1"}]},
    }
    fs = {"index": 2, "id": "call_3", "type": "file_search", "file_search": {}}
    return [
        rs.RunStepDeltaEvent.model_validate(
            {"id": "step_1", "delta": {"step_details": {"type": "tool_calls", "tool_calls": [c]}}}
        )
        for c in (header, code, fs)
    ] + [
        rs.RunStepDeltaEvent.model_validate(
            {
                "id": "step_1",
                "delta": {
                    "step_details": {
                        "type": "message_creation",
                        "message_creation": {"message_id": "msg_1"},
                    }
                },
            }
        )
    ]


@pytest.mark.parametrize("delta", step_deltas())
def test_run_step_deltas(delta: rs.RunStepDeltaEvent) -> None:
    spec.validate_component("RunStepDeltaObject", data_of(ev.ThreadRunStepDelta(data=delta)))


def test_message_delta() -> None:
    delta = MessageDelta(
        content=[TextDeltaBlock(index=0, text=TextDelta(value="Hi", annotations=[]))]
    )
    data = data_of(ev.ThreadMessageDelta(data=MessageDeltaEvent(id="msg_1", delta=delta)))
    spec.validate_component("MessageDeltaObject", data)


def test_error_event_data_is_a_valid_error() -> None:
    data = data_of(ev.ErrorEvent(data=ev.ErrorData(message="boom")))
    spec.validate_component("Error", {k: v for k, v in data.items() if k != "error"})
    spec.validate_component("Error", data["error"])
