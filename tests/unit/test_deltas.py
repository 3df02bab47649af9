"""Delta builders, checked by replaying them through the official SDK's own accumulator."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai.lib.streaming._assistants import accumulate_delta

from assistantd.events import deltas
from assistantd.events.models import StreamEvent, ThreadMessageDelta
from assistantd.events.sse import encode


def data(event: StreamEvent) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(encode(event).split(b"\ndata: ", 1)[1])
    return loaded


def merge(events: list[StreamEvent]) -> dict[str, Any]:
    """Fold delta payloads the way AssistantEventHandler does."""
    snapshot: dict[object, object] = {}
    for event in events:
        accumulate_delta(snapshot, data(event)["delta"])
    return {str(key): value for key, value in snapshot.items()}


def test_text_deltas() -> None:
    first = data(deltas.text_delta("msg_1", "Hel", first=True))
    assert first["delta"]["content"] == [
        {"index": 0, "type": "text", "text": {"value": "Hel", "annotations": []}}
    ]
    merged = merge(
        [
            deltas.text_delta("msg_1", "Hel", first=True),
            deltas.text_delta("msg_1", "lo"),
            deltas.refusal_delta("msg_1", "no", index=1),
        ]
    )
    assert merged["content"][0]["text"] == {"value": "Hello", "annotations": []}
    assert merged["content"][1] == {"index": 1, "type": "refusal", "refusal": "no"}


def test_function_call_deltas_merge_without_doubling() -> None:
    merged = merge(
        [
            deltas.function_header("step_1", 0, "call_a", "get_weather"),
            deltas.function_arguments("step_1", 0, '{"city": '),
            deltas.function_header("step_1", 1, "call_b", "get_time"),
            deltas.function_arguments("step_1", 0, '"Paris"}'),
            deltas.function_arguments("step_1", 1, "{}"),
        ]
    )
    calls = merged["step_details"]["tool_calls"]
    assert calls[0]["id"] == "call_a" and calls[0]["function"]["name"] == "get_weather"
    assert calls[0]["function"]["arguments"] == '{"city": "Paris"}'
    assert calls[1]["id"] == "call_b" and calls[1]["function"]["arguments"] == "{}"


def test_code_interpreter_deltas() -> None:
    header = data(deltas.code_header("step_1", 0, "call_c"))["delta"]["step_details"]
    assert header["tool_calls"][0] == {
        "index": 0,
        "type": "code_interpreter",
        "id": "call_c",
        "code_interpreter": {"input": "", "outputs": []},
    }
    merged = merge(
        [
            deltas.code_header("step_1", 0, "call_c"),
            deltas.code_input("step_1", 0, "print("),
            deltas.code_input("step_1", 0, "1)"),
            deltas.code_logs("step_1", 0, 0, "1\n"),
            deltas.code_image("step_1", 0, 1, "file-img"),
        ]
    )
    code = merged["step_details"]["tool_calls"][0]["code_interpreter"]
    assert code["input"] == "print(1)"
    assert code["outputs"] == [
        {"index": 0, "type": "logs", "logs": "1\n"},
        {"index": 1, "type": "image", "image": {"file_id": "file-img"}},
    ]


def test_file_search_header() -> None:
    details = data(deltas.file_search_header("step_1", 2, "call_f"))["delta"]["step_details"]
    assert details["tool_calls"] == [
        {"index": 2, "type": "file_search", "id": "call_f", "file_search": {}}
    ]


EVERY_CHARACTER = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)


@pytest.mark.parametrize("value", ["", "Hel", ' "quoted" \\ \n\t\x00\x1f\x7f', EVERY_CHARACTER])
@pytest.mark.parametrize(("index", "first"), [(0, True), (0, False), (3, True), (12, False)])
def test_text_delta_frames_are_the_typed_models_frames(value: str, index: int, first: bool) -> None:
    """The text delta is written straight to JSON (one per token): its frame is, byte for byte,
    the frame of the typed `MessageDeltaEvent` (every character escaped alike)."""
    fast = deltas.text_delta("msg_1", value, index=index, first=first)
    typed = ThreadMessageDelta(data=fast.data.model())
    assert encode(fast) == encode(typed)
    assert data(fast)["delta"]["content"][0]["text"]["value"] == value
