"""The chat-completions body built from a run's settings."""

from __future__ import annotations

from typing import Any

import pytest

from assistantd.executor.request import UnsupportedTool, chat_request
from assistantd.runs.schemas import Run

MESSAGES = [{"role": "user", "content": "hi"}]
FUNCTION = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}},
}
PYTHON = {"type": "function", "function": {"name": "python", "parameters": {"type": "object"}}}


def make_run(**fields: Any) -> Run:
    base = {
        "id": "run_1",
        "created_at": 1,
        "thread_id": "t",
        "assistant_id": "a",
        "model": "gpt-4o",
    }
    return Run.model_validate({**base, **fields})


def test_plain_run_sends_only_model_and_messages() -> None:
    assert chat_request(make_run(), MESSAGES) == {"model": "gpt-4o", "messages": MESSAGES}


def test_functions_and_choices() -> None:
    body = chat_request(make_run(tools=[FUNCTION], parallel_tool_calls=False), MESSAGES)
    assert body["tools"] == [FUNCTION] and body["parallel_tool_calls"] is False
    assert "tool_choice" not in body
    for choice in ("none", "required"):
        assert (
            chat_request(make_run(tools=[FUNCTION], tool_choice=choice), MESSAGES)["tool_choice"]
            == choice
        )
    named = {"type": "function", "function": {"name": "get_weather"}}
    assert (
        chat_request(make_run(tools=[FUNCTION], tool_choice=named), MESSAGES)["tool_choice"]
        == named
    )


def test_tool_choice_without_tools_is_not_sent() -> None:
    assert "tool_choice" not in chat_request(make_run(tool_choice="none"), MESSAGES)


def test_server_tools() -> None:
    run = make_run(tools=[{"type": "code_interpreter"}], tool_choice={"type": "code_interpreter"})
    with pytest.raises(UnsupportedTool, match="code_interpreter"):
        chat_request(run, MESSAGES)
    body = chat_request(run, MESSAGES, server_tools={"code_interpreter": PYTHON})
    assert body["tools"] == [PYTHON]
    assert body["tool_choice"] == {"type": "function", "function": {"name": "python"}}
    other = make_run(tools=[FUNCTION], tool_choice={"type": "file_search"})
    with pytest.raises(UnsupportedTool, match="file_search"):
        chat_request(other, MESSAGES)


@pytest.mark.parametrize(
    ("response_format", "sent"),
    [
        ("auto", None),
        ({"type": "text"}, None),
        ({"type": "json_object"}, {"type": "json_object"}),
        (
            {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}},
            {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}},
        ),
    ],
)
def test_response_format(response_format: Any, sent: Any) -> None:
    body = chat_request(make_run(response_format=response_format), MESSAGES)
    assert body.get("response_format") == sent


def test_sampling_budget_and_reasoning() -> None:
    body = chat_request(make_run(temperature=0.2, top_p=0.9), MESSAGES, max_completion_tokens=300)
    assert body["temperature"] == 0.2 and body["top_p"] == 0.9 and body["max_tokens"] == 300
    body = chat_request(
        make_run(model="o3-mini"), MESSAGES, max_completion_tokens=300, reasoning_effort="low"
    )
    assert body["max_completion_tokens"] == 300 and "max_tokens" not in body
    assert body["reasoning_effort"] == "low"
