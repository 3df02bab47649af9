"""Run request bodies: every field, limits, and the tool_choice / truncation shapes."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from assistantd.runs.schemas import (
    AssistantToolChoice,
    CreateRunRequest,
    CreateThreadAndRunRequest,
    ModifyRunRequest,
    Run,
    SubmitToolOutputsRequest,
)

FULL: dict[str, Any] = {
    "assistant_id": "asst_1",
    "model": "gpt-4o",
    "instructions": "x",
    "additional_instructions": "y",
    "additional_messages": [{"role": "user", "content": "hi"}],
    "tools": [{"type": "function", "function": {"name": "f"}}],
    "metadata": {"k": "v"},
    "temperature": 2,
    "top_p": 0,
    "stream": True,
    "max_prompt_tokens": 256,
    "max_completion_tokens": 1000,
    "truncation_strategy": {"type": "last_messages", "last_messages": 4},
    "tool_choice": {"type": "function", "function": {"name": "f"}},
    "parallel_tool_calls": False,
    "response_format": {"type": "json_object"},
    "reasoning_effort": "low",
    "include": ["ignored"],
}


def test_full_create_run_request() -> None:
    request = CreateRunRequest.model_validate(FULL)
    assert request.additional_messages and request.additional_messages[0].content == "hi"
    assert isinstance(request.tool_choice, AssistantToolChoice)
    assert request.truncation_strategy and request.truncation_strategy.last_messages == 4
    assert request.parallel_tool_calls is False


def test_defaults() -> None:
    request = CreateRunRequest.model_validate({"assistant_id": "asst_1"})
    assert request.parallel_tool_calls is True and request.tool_choice is None


@pytest.mark.parametrize("choice", ["none", "auto", "required", {"type": "file_search"}])
def test_tool_choice_forms(choice: Any) -> None:
    CreateRunRequest.model_validate({"assistant_id": "a", "tool_choice": choice})


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("temperature", 2.1),
        ("temperature", -0.1),
        ("top_p", 1.5),
        ("max_prompt_tokens", 255),
        ("max_completion_tokens", 0),
        ("tools", [{"type": "code_interpreter"}] * 21),
        ("tool_choice", "sometimes"),
        ("truncation_strategy", {"type": "last_messages", "last_messages": 0}),
        ("truncation_strategy", {"type": "middle"}),
        ("metadata", {str(i): "v" for i in range(17)}),
        ("reasoning_effort", "extreme"),
        ("response_format", {"type": "yaml"}),
    ],
)
def test_out_of_range_values_name_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        CreateRunRequest.model_validate({"assistant_id": "a", field: value})
    assert caught.value.errors()[0]["loc"][0] == field


def test_missing_assistant_id() -> None:
    with pytest.raises(ValidationError):
        CreateRunRequest.model_validate({})


def test_create_thread_and_run() -> None:
    request = CreateThreadAndRunRequest.model_validate(
        {
            "assistant_id": "a",
            "thread": {"messages": [{"role": "user", "content": "hi"}], "metadata": {"a": "b"}},
            "tool_resources": {"code_interpreter": {"file_ids": ["file-1"]}},
            "stream": True,
        }
    )
    assert request.thread and request.thread.messages and request.stream


def test_submit_and_modify() -> None:
    body = {"tool_outputs": [{"tool_call_id": "call_1", "output": "42"}], "stream": True}
    assert SubmitToolOutputsRequest.model_validate(body).tool_outputs[0].output == "42"
    with pytest.raises(ValidationError):
        SubmitToolOutputsRequest.model_validate({})
    assert ModifyRunRequest.model_validate({"metadata": {"a": "b"}}).metadata == {"a": "b"}


def test_run_object_has_every_required_key_with_live_defaults() -> None:
    run = Run(id="run_1", created_at=1, thread_id="t", assistant_id="a", model="m")
    data = run.model_dump(mode="json")
    required = [
        "id",
        "object",
        "created_at",
        "thread_id",
        "assistant_id",
        "status",
        "required_action",
        "last_error",
        "expires_at",
        "started_at",
        "cancelled_at",
        "failed_at",
        "completed_at",
        "incomplete_details",
        "model",
        "instructions",
        "tools",
        "metadata",
        "usage",
        "max_prompt_tokens",
        "max_completion_tokens",
        "truncation_strategy",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
    ]
    assert list(data)[: len(required) - 6] == required[: len(required) - 6]
    assert set(required) <= set(data)
    assert data["truncation_strategy"] == {"type": "auto", "last_messages": None}
    assert data["tool_choice"] == "auto" and data["response_format"] == "auto"
    assert data["metadata"] == {} and data["parallel_tool_calls"] is True
