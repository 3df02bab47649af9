"""ModelTurn: chunk updates → objects and events, replayed through the official SDK's handler."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openai._models import construct_type
from openai.lib.streaming import AssistantEventHandler
from openai.types.beta import AssistantStreamEvent

from assistantd.events.models import StreamEvent
from assistantd.events.sse import encode
from assistantd.executor.accumulator import ChatAccumulator
from assistantd.executor.turn import ModelTurn
from assistantd.messages.schemas import Message
from assistantd.run_steps.schemas import (
    CodeInterpreterToolCall,
    FunctionToolCall,
    LastError,
    RunStep,
)
from assistantd.runs.schemas import Run
from assistantd.upstream.types import ChatChunk

RUN = Run(id="run_1", created_at=1, thread_id="thread_1", assistant_id="asst_1", model="gpt-4o")


class Recorder(AssistantEventHandler):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []

    def on_text_created(self, text: Any) -> None:
        self.calls.append(("text_created", text.value))

    def on_text_delta(self, delta: Any, snapshot: Any) -> None:
        self.calls.append(("text_delta", delta.value))

    def on_text_done(self, text: Any) -> None:
        self.calls.append(("text_done", text.value))

    def on_message_done(self, message: Any) -> None:
        self.calls.append(("message_done", message.status))

    def on_tool_call_created(self, tool_call: Any) -> None:
        self.calls.append(("tool_created", tool_call.id))

    def on_tool_call_delta(self, delta: Any, snapshot: Any) -> None:
        if delta.type == "code_interpreter":
            self.calls.append(("code_delta", delta.code_interpreter.input))
        else:
            self.calls.append(("args_delta", delta.function.arguments))

    def on_tool_call_done(self, tool_call: Any) -> None:
        self.calls.append(("tool_done", tool_call.id))

    def on_run_step_done(self, run_step: Any) -> None:
        self.calls.append(("step_done", run_step.status))


class Harness:
    def __init__(self, **options: Any) -> None:
        self.events: list[StreamEvent] = []
        self.saved: list[Message | RunStep] = []
        self.turn = ModelTurn(RUN, self.events.append, self._save, clock=lambda: 42, **options)
        self.acc = ChatAccumulator()

    async def _save(self, obj: Message | RunStep) -> None:
        self.saved.append(obj)

    async def feed(self, chunks: list[ChatChunk]) -> None:
        for chunk in chunks:
            await self.turn.feed(self.acc.add(chunk))

    def names(self) -> list[str]:
        return [e.event for e in self.events]

    def replay(self) -> Recorder:
        handler = Recorder()
        for event in self.events:
            frame = encode(event).decode()
            name = frame.split("\n", 1)[0][len("event: ") :]
            data = json.loads(frame.split("\ndata: ", 1)[1])
            typed = construct_type(type_=AssistantStreamEvent, value={"event": name, "data": data})
            handler._emit_sse_event(typed)  # type: ignore[arg-type]
        return handler


def text_chunks(*pieces: str, finish: str = "stop") -> list[ChatChunk]:
    chunks: list[ChatChunk] = [{"choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
    chunks += [{"choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    chunks.append(
        {"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}
    )
    return chunks


def call_chunk(index: int, **part: Any) -> ChatChunk:
    chunk: dict[str, Any] = {
        "choices": [{"index": 0, "delta": {"tool_calls": [{"index": index, **part}]}}]
    }
    return chunk  # type: ignore[return-value]


async def test_plain_text_turn() -> None:
    h = Harness()
    await h.feed(text_chunks("Hel", "lo", " there"))
    result = await h.turn.finish(h.acc)
    assert h.names() == [
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.message.created",
        "thread.message.in_progress",
        "thread.message.delta",
        "thread.message.delta",
        "thread.message.delta",
        "thread.message.completed",
        "thread.run.step.completed",
    ]
    created = h.events[2].data
    assert created.content == [] and created.status == "in_progress"
    assert result.message is not None and result.message.status == "completed"
    assert result.message.content[0].text.value == "Hello there"  # type: ignore[union-attr]
    assert result.usage is not None and result.usage.total_tokens == 10
    step = h.events[-1].data
    assert step.usage == result.usage and step.completed_at == 42
    assert step.step_details.message_creation.message_id == result.message.id
    assert h.replay().calls == [
        ("text_created", "Hel"),
        ("text_delta", "Hel"),
        ("text_delta", "lo"),
        ("text_delta", " there"),
        ("text_done", "Hello there"),
        ("message_done", "completed"),
        ("step_done", "completed"),
    ]
    assert [type(o).__name__ + ":" + o.status for o in h.saved] == [
        "RunStep:in_progress",
        "Message:in_progress",
        "Message:completed",
        "RunStep:completed",
    ]


async def test_length_finish_makes_the_message_incomplete() -> None:
    h = Harness()
    await h.feed(text_chunks("cut", finish="length"))
    result = await h.turn.finish(h.acc)
    assert result.message is not None and result.message.status == "incomplete"
    assert result.message.incomplete_details is not None
    assert result.message.incomplete_details.reason == "max_tokens"
    assert h.names()[-2:] == ["thread.message.incomplete", "thread.run.step.completed"]


async def test_empty_answer_still_makes_a_message() -> None:
    h = Harness()
    await h.feed(text_chunks())
    result = await h.turn.finish(h.acc)
    assert result.message is not None and result.message.content[0].text.value == ""  # type: ignore[union-attr]
    assert ("message_done", "completed") in h.replay().calls


async def test_text_then_parallel_function_calls() -> None:
    h = Harness()
    await h.feed(
        [
            {"choices": [{"index": 0, "delta": {"content": "Checking."}}]},
            call_chunk(0, id="call_a", type="function", function={"name": "f", "arguments": ""}),
            call_chunk(1, id="call_b", type="function", function={"name": "g", "arguments": "{"}),
            call_chunk(0, function={"arguments": '{"x": 1}'}),
            call_chunk(1, function={"arguments": "}"}),
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]},
        ]
    )
    result = await h.turn.finish(h.acc)
    names = h.names()
    assert names.index("thread.message.completed") < names.index("thread.run.step.created", 3)
    assert result.tool_step is not None and result.tool_step.status == "in_progress"
    functions = [c for c in result.tool_calls if isinstance(c, FunctionToolCall)]
    assert [
        (c.id, c.function.name, c.function.arguments, c.function.output) for c in functions
    ] == [
        ("call_a", "f", '{"x": 1}', None),
        ("call_b", "g", "{}", None),
    ]
    assert result.usage is None
    calls = h.replay().calls
    assert ("tool_created", "call_a") in calls and ("tool_created", "call_b") in calls
    assert ("args_delta", '{"x": 1}') in calls and ("args_delta", "}") in calls
    # the tool step stays open: requires_action comes from the run loop


async def test_code_interpreter_input_streams_as_code() -> None:
    h = Harness(code_tool_name="python")
    args = json.dumps({"code": 'print("hi")\n'})
    await h.feed(
        [call_chunk(0, id="call_c", type="function", function={"name": "python", "arguments": ""})]
        + [call_chunk(0, function={"arguments": ch}) for ch in args]
        + [{"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}]
    )
    result = await h.turn.finish(h.acc)
    (call,) = result.tool_calls
    assert isinstance(call, CodeInterpreterToolCall)
    assert call.code_interpreter.input == 'print("hi")\n'
    codes = [c[1] for c in h.replay().calls if c[0] == "code_delta"]
    assert "".join(codes) == 'print("hi")\n' and len(codes) > 3


@pytest.mark.parametrize(
    ("reason", "message_reason", "step_status"),
    [
        ("cancelled", "run_cancelled", "cancelled"),
        ("failed", "run_failed", "failed"),
        ("expired", "run_expired", "expired"),
    ],
)
async def test_abort_closes_open_objects(
    reason: Any, message_reason: str, step_status: str
) -> None:
    h = Harness()
    await h.feed(text_chunks("partial")[:2])
    error = LastError(code="server_error", message="upstream died") if reason == "failed" else None
    await h.turn.abort(reason, error)
    assert h.names()[-2:] == ["thread.message.incomplete", f"thread.run.step.{step_status}"]
    message = h.events[-2].data
    assert message.incomplete_details.reason == message_reason
    assert message.content[0].text.value == "partial"
    assert h.events[-1].data.status == step_status
    calls = h.replay().calls
    assert ("message_done", "incomplete") in calls and ("step_done", step_status) in calls


async def test_abort_closes_an_open_tool_step() -> None:
    h = Harness()
    await h.feed(
        [call_chunk(0, id="call_a", type="function", function={"name": "f", "arguments": ""})]
    )
    await h.turn.abort("cancelled")
    assert h.names()[-1] == "thread.run.step.cancelled"


async def test_interleaved_parallel_calls_reach_the_sdk_one_at_a_time() -> None:
    h = Harness()
    await h.feed(
        [
            call_chunk(0, id="call_a", type="function", function={"name": "f", "arguments": ""}),
            call_chunk(1, id="call_b", type="function", function={"name": "g", "arguments": ""}),
            call_chunk(0, function={"arguments": '{"x"'}),
            call_chunk(1, function={"arguments": '{"y"'}),
            call_chunk(0, function={"arguments": ": 1}"}),  # call_a complete: call_b goes live
            call_chunk(1, function={"arguments": ": 2}"}),
            call_chunk(2, id="call_c", type="function", function={"name": "h", "arguments": ""}),
            call_chunk(2, function={"arguments": "{}"}),
        ]
    )
    live = list(h.replay().calls)
    await h.turn.finish(h.acc)
    calls = h.replay().calls
    assert [c for c in calls if c[0] == "tool_created"] == [
        ("tool_created", "call_a"),
        ("tool_created", "call_b"),
        ("tool_created", "call_c"),
    ]
    indices = [
        e.data.delta.step_details.tool_calls[0].index
        for e in h.events
        if e.event == "thread.run.step.delta"
    ]
    assert indices == sorted(indices)  # never back to an earlier call
    assert len(indices) == 3 + 5  # three headers, five argument increments
    assert (
        "tool_created",
        "call_c",
    ) in live  # everything streamed live, nothing waited for the end


async def test_sequencer_holds_back_until_the_end_if_never_complete() -> None:
    h = Harness()
    await h.feed(
        [
            call_chunk(0, id="call_a", type="function", function={"name": "f", "arguments": "{"}),
            call_chunk(1, id="call_b", type="function", function={"name": "g", "arguments": "{}"}),
        ]
    )
    assert ("tool_created", "call_b") not in h.replay().calls
    await h.turn.finish(h.acc)
    assert ("tool_created", "call_b") in h.replay().calls
