"""Rendering thread messages and earlier tool calls for chat completions."""

from __future__ import annotations

from typing import Any

from assistantd.executor.transcript import render_message, render_transcript
from assistantd.messages.schemas import Message
from assistantd.run_steps.schemas import RunStep


def message(role: str, content: list[dict[str, Any]], **extra: Any) -> Message:
    return Message.model_validate(
        {
            "id": "msg_1",
            "created_at": 1,
            "thread_id": "t",
            "role": role,
            "content": content,
            **extra,
        }
    )


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": {"value": value, "annotations": []}}


def step(calls: list[dict[str, Any]]) -> RunStep:
    return RunStep.model_validate(
        {
            "id": "step_1",
            "created_at": 1,
            "assistant_id": "a",
            "thread_id": "t",
            "run_id": "r",
            "type": "tool_calls",
            "step_details": {"type": "tool_calls", "tool_calls": calls},
        }
    )


def test_text_message_is_a_plain_string() -> None:
    assert render_message(message("user", [text("a"), text("b")])) == {
        "role": "user",
        "content": "a\nb",
    }


def test_images_and_attachments() -> None:
    content = [
        text("look"),
        {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
        {"type": "image_file", "image_file": {"file_id": "file-1"}},
    ]
    attachments = [{"file_id": "file-2", "tools": [{"type": "code_interpreter"}]}]
    rendered = render_message(
        message("user", content, attachments=attachments),
        lambda fid: f"data:image/png;base64,{fid}",
    )
    assert rendered == {
        "role": "user",
        "content": [
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "low"}},
            {
                "type": "image_url",
                "image_url": {"url": "data:image/png;base64,file-1", "detail": "auto"},
            },
            {"type": "text", "text": "[Attached file file-2 for code_interpreter]"},
        ],
    }
    no_loader = render_message(message("user", content[2:]))
    assert no_loader == {"role": "user", "content": "[Image file file-1]"}


def test_empty_message_is_skipped() -> None:
    assert render_transcript([message("assistant", [])]) == []


def test_tool_steps_replayed_with_results_only() -> None:
    calls = [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "f", "arguments": "{}", "output": "42"},
        },
        {
            "id": "call_2",
            "type": "function",
            "function": {"name": "g", "arguments": "{}", "output": None},
        },
        {
            "id": "call_3",
            "type": "code_interpreter",
            "code_interpreter": {
                "input": 'print("hi")',
                "outputs": [
                    {"type": "logs", "logs": "hi\n"},
                    {"type": "image", "image": {"file_id": "file-9"}},
                ],
            },
        },
        {
            "id": "call_4",
            "type": "file_search",
            "file_search": {"results": [{"file_id": "file-1", "file_name": "a.txt", "score": 0.5}]},
        },
    ]
    rendered = render_transcript(
        [message("user", [text("q")]), step(calls)],
        tool_names={"code_interpreter": "python", "file_search": "search"},
    )
    assert rendered[0] == {"role": "user", "content": "q"}
    assistant = rendered[1]
    assert [c["id"] for c in assistant["tool_calls"]] == ["call_1", "call_3", "call_4"]
    assert assistant["tool_calls"][1]["function"] == {
        "name": "python",
        "arguments": '{"code":"print(\\"hi\\")"}',
    }
    assert rendered[2:] == [
        {"role": "tool", "tool_call_id": "call_1", "content": "42"},
        {"role": "tool", "tool_call_id": "call_3", "content": "hi\n\n[Image file file-9]"},
        {"role": "tool", "tool_call_id": "call_4", "content": "【0:0†a.txt】 (score 0.50)\n"},
    ]


def test_unanswered_step_disappears() -> None:
    calls = [{"id": "call_2", "type": "function", "function": {"name": "g", "arguments": "{}"}}]
    assert render_transcript([step(calls)]) == []
    message_step = RunStep.model_validate(
        {
            "id": "step_2",
            "created_at": 1,
            "assistant_id": "a",
            "thread_id": "t",
            "run_id": "r",
            "type": "message_creation",
            "step_details": {"type": "message_creation", "message_creation": {"message_id": "m"}},
        }
    )
    assert render_transcript([message_step]) == []
