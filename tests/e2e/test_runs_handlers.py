"""Every stream callback with the sync and async clients; every SSE payload against the spec."""

from __future__ import annotations

from typing import Any

import httpx
import openai
import pytest
from openai import AsyncAssistantEventHandler, AsyncOpenAI
from typing_extensions import override

from tests.conftest import KEY_A
from tests.e2e.test_runs_stream import Recorder
from tests.fakes.upstream import Call, FakeUpstream, Turn
from tests.support.server import RunningServer
from tests.support.sse import post_stream, validate_events

TEXT_EVENTS = [
    "thread.run.created",
    "thread.run.queued",
    "thread.run.in_progress",
    "thread.run.step.created",
    "thread.run.step.in_progress",
    "thread.message.created",
    "thread.message.in_progress",
]


class AsyncRecorder(AsyncAssistantEventHandler):
    """The async twin of `Recorder`: every callback overridden."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []

    @override
    async def on_event(self, event: Any) -> None:
        self.calls.append(("event", event.event))

    @override
    async def on_run_step_created(self, run_step: Any) -> None:
        self.calls.append(("step_created", run_step.type))

    @override
    async def on_run_step_delta(self, delta: Any, snapshot: Any) -> None:
        self.calls.append(("step_delta", snapshot.id))

    @override
    async def on_run_step_done(self, run_step: Any) -> None:
        self.calls.append(("step_done", run_step.status))

    @override
    async def on_message_created(self, message: Any) -> None:
        self.calls.append(("message_created", message.id))

    @override
    async def on_message_delta(self, delta: Any, snapshot: Any) -> None:
        self.calls.append(("message_delta", delta.content[0].text.value))

    @override
    async def on_message_done(self, message: Any) -> None:
        self.calls.append(("message_done", message.content[0].text.value))

    @override
    async def on_text_created(self, text: Any) -> None:
        self.calls.append(("text_created", text.value))

    @override
    async def on_text_delta(self, delta: Any, snapshot: Any) -> None:
        self.calls.append(("text_delta", delta.value))

    @override
    async def on_text_done(self, text: Any) -> None:
        self.calls.append(("text_done", text.value))

    @override
    async def on_tool_call_created(self, tool_call: Any) -> None:
        self.calls.append(("tool_call_created", tool_call.type))

    @override
    async def on_tool_call_delta(self, delta: Any, snapshot: Any) -> None:
        self.calls.append(("tool_call_delta", delta.type))

    @override
    async def on_tool_call_done(self, tool_call: Any) -> None:
        self.calls.append(("tool_call_done", tool_call.type))

    @override
    async def on_end(self) -> None:
        self.calls.append(("end", None))

    def names(self, kind: str) -> list[Any]:
        return [value for name, value in self.calls if name == kind]


def _tool_turns(fake: FakeUpstream) -> None:
    fake.script(
        Turn(text="Let me look", tool_calls=[Call("lookup", '{"q": "paris"}', id="call_a")]),
        Turn(text="Found it", tokens=["Found", " it"]),
    )


def _check_function_round(first: Any, second: Any) -> None:
    assert first.names("text_created") == ["Let"]  # the SDK passes the first delta's snapshot
    assert first.names("text_done") == ["Let me look"]
    assert first.names("tool_call_created") == ["function"]
    assert set(first.names("tool_call_delta")) == {"function"}
    assert first.names("tool_call_done") == ["function"]
    assert first.names("step_created") == ["message_creation", "tool_calls"]
    assert first.names("step_done") == ["completed"]  # the tool step stays open
    assert first.names("event")[-1] == "thread.run.requires_action"
    assert first.names("end") == [None]
    assert second.names("event")[:2] == ["thread.run.step.completed", "thread.run.queued"]
    assert second.names("step_done")[0] == "completed"
    assert second.names("text_delta") == ["Found", " it"]
    assert second.names("message_done") == ["Found it"]
    assert second.names("event")[-1] == "thread.run.completed"
    assert second.names("end") == [None]


def test_sync_handler_function_round(client: openai.OpenAI, fake: FakeUpstream) -> None:
    _tool_turns(fake)
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[tool])  # type: ignore[list-item]
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "where?"}])
    first = Recorder()
    with client.beta.threads.runs.stream(
        thread_id=thread.id, assistant_id=assistant.id, event_handler=first
    ) as stream:
        stream.until_done()
    run = stream.get_final_run()
    assert run.status == "requires_action" and run.required_action is not None
    second = Recorder()
    with client.beta.threads.runs.submit_tool_outputs_stream(
        thread_id=thread.id,
        run_id=run.id,
        tool_outputs=[{"tool_call_id": "call_a", "output": "sunny"}],
        event_handler=second,
    ) as stream:
        stream.until_done()
    _check_function_round(first, second)
    assert stream.get_final_run().status == "completed"


async def test_async_handler_every_callback(server: RunningServer, fake: FakeUpstream) -> None:
    fake.script(Turn(text="Hi async world", tokens=["Hi", " async", " world"]))
    async with AsyncOpenAI(base_url=server.api, api_key=KEY_A, max_retries=0) as client:
        assistant = await client.beta.assistants.create(model="gpt-4o")
        thread = await client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
        handler = AsyncRecorder()
        async with client.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=assistant.id, event_handler=handler
        ) as stream:
            await stream.until_done()
        run = await stream.get_final_run()
        assert run.status == "completed"
        assert handler.names("text_created") == ["Hi"]
        assert handler.names("text_delta") == ["Hi", " async", " world"]
        assert handler.names("message_delta") == ["Hi", " async", " world"]
        assert handler.names("text_done") == ["Hi async world"]
        assert handler.names("message_done") == ["Hi async world"]
        assert handler.names("step_created") == ["message_creation"]
        assert handler.names("step_done") == ["completed"]
        assert handler.names("end") == [None]
        assert handler.names("event")[:7] == TEXT_EVENTS
        assert handler.names("event")[-1] == "thread.run.completed"

        # The async function round trip.
        _tool_turns(fake)
        tool = {"type": "function", "function": {"name": "lookup"}}
        await client.beta.threads.messages.create(thread.id, role="user", content="where?")
        first = AsyncRecorder()
        async with client.beta.threads.runs.stream(
            thread_id=thread.id,
            assistant_id=assistant.id,
            tools=[tool],  # type: ignore[list-item]
            event_handler=first,
        ) as stream:
            await stream.until_done()
        run = await stream.get_final_run()
        second = AsyncRecorder()
        async with client.beta.threads.runs.submit_tool_outputs_stream(
            thread_id=thread.id,
            run_id=run.id,
            tool_outputs=[{"tool_call_id": "call_a", "output": "sunny"}],
            event_handler=second,
        ) as stream:
            await stream.until_done()
        _check_function_round(first, second)


def test_every_sse_payload_validates(
    client: openai.OpenAI, http: httpx.Client, fake: FakeUpstream
) -> None:
    fake.script(
        Turn(text="Checking", tool_calls=[Call("f", '{"a": 1}'), Call("g", '{"b": 2}')]),
        Turn(text="All done now"),
    )
    tool = {"type": "function", "function": {"name": "f"}}
    tool_g = {"type": "function", "function": {"name": "g"}}
    assistant = client.beta.assistants.create(model="gpt-4o", tools=[tool, tool_g])  # type: ignore[list-item]
    body = {
        "assistant_id": assistant.id,
        "thread": {"messages": [{"role": "user", "content": "x"}]},
    }
    first = post_stream(http, "/threads/runs", body)
    checked = validate_events(first)
    assert first[0][0] == "thread.created"
    assert {"ThreadObject", "RunObject", "RunStepObject", "RunStepDeltaObject"} <= set(checked)
    assert {"MessageObject", "MessageDeltaObject"} <= set(checked)
    run = first[-2][1]
    assert first[-2][0] == "thread.run.requires_action"
    outputs = [
        {"tool_call_id": c["id"], "output": "ok"}
        for c in run["required_action"]["submit_tool_outputs"]["tool_calls"]
    ]
    path = f"/threads/{run['thread_id']}/runs/{run['id']}/submit_tool_outputs"
    second = post_stream(http, path, {"tool_outputs": outputs})
    validate_events(second)
    assert [n for n, _ in second][:2] == ["thread.run.step.completed", "thread.run.queued"]
    assert second[-2][0] == "thread.run.completed"
    # Deltas carry `index` on every list entry.
    for name, data in first + second:
        if name.endswith(".delta"):
            entries = data["delta"].get("content") or data["delta"]["step_details"].get(
                "tool_calls"
            )
            assert all("index" in entry for entry in entries)


@pytest.mark.parametrize("unused", [None])
def test_created_message_starts_empty(
    unused: None, client: openai.OpenAI, http: httpx.Client, fake: FakeUpstream
) -> None:
    fake.script(Turn(text="abc def"))
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "x"}])
    events = post_stream(http, f"/threads/{thread.id}/runs", {"assistant_id": assistant.id})
    validate_events(events)
    created = next(d for n, d in events if n == "thread.message.created")
    assert created["content"] == [] and created["status"] == "in_progress"
