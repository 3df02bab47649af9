"""The building blocks wired together the way the run loop will: fake upstream over HTTP →
UpstreamClient → ChatAccumulator → ModelTurn → Broker → SSE frames → the official SDK handler.

This is also the reference for wiring the executor (see `drive`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json

from openai._models import construct_type
from openai.types.beta import AssistantStreamEvent

from assistantd.events import models as ev
from assistantd.events.broker import Broker, LocalBroker
from assistantd.executor.accumulator import ChatAccumulator
from assistantd.executor.request import chat_request
from assistantd.executor.turn import ModelTurn
from assistantd.messages.schemas import Message
from assistantd.run_steps.schemas import LastError, RunStep
from assistantd.runs import events as run_events
from assistantd.runs import state
from assistantd.runs.schemas import Run
from assistantd.upstream import UpstreamClient, UpstreamError
from tests.fakes.upstream import Call, Fail, FakeUpstream, Turn
from tests.unit.test_turn import Recorder

FUNCTION = {"type": "function", "function": {"name": "get_weather", "parameters": {}}}


def new_run() -> Run:
    return Run(
        id="run_1",
        created_at=1,
        thread_id="thread_1",
        assistant_id="asst_1",
        model="gpt-4o",
        tools=[FUNCTION],
        expires_at=601,
    )


async def drive(client: UpstreamClient, broker: Broker, run: Run) -> Run:
    """A minimal run loop: one model call, then complete / requires_action / fail."""
    saved: list[Message | RunStep] = []

    async def save(obj: Message | RunStep) -> None:
        saved.append(obj)  # the real loop writes to the store here

    def publish(event: ev.StreamEvent) -> None:
        broker.publish(run.id, event)

    publish(run_events.ThreadRunCreated(data=run))
    publish(run_events.ThreadRunQueued(data=run))
    run, name = state.advance(run, "in_progress", 2)
    publish(run_events.run_event(name, run))
    turn, acc = ModelTurn(run, publish, save), ChatAccumulator()
    body = chat_request(run, [{"role": "user", "content": "hi"}])
    try:
        async with contextlib.aclosing(client.stream_chat(body)) as chunks:
            async for chunk in chunks:
                await turn.feed(acc.add(chunk))
    except UpstreamError as error:
        last_error = LastError(code="server_error", message=error.message)
        await turn.abort("failed", last_error)
        run, name = state.advance(
            run, "failed", 3, last_error={"code": error.code, "message": error.message}
        )
        publish(run_events.run_event(name, run))
        return run
    result = await turn.finish(acc)
    if result.tool_calls:
        calls = [{"id": c.id, "function": c.function.model_dump()} for c in result.tool_calls]  # type: ignore[union-attr]
        action = {"submit_tool_outputs": {"tool_calls": calls}}
        run, name = state.advance(run, "requires_action", 3, required_action=action)
    else:
        run, name = state.advance(run, "completed", 3, usage=result.usage)
    publish(run_events.run_event(name, run))
    return run


async def stream_once(fake: FakeUpstream, client: UpstreamClient) -> tuple[Run, list[bytes]]:
    broker = LocalBroker(keepalive_s=None)
    broker.open("run_1")
    sub = broker.subscribe("run_1")  # before the run starts, like the router will
    frames: list[bytes] = []

    async def read() -> None:
        async for frame in sub:
            frames.append(frame)

    reader = asyncio.create_task(read())
    run = await drive(client, broker, new_run())
    await asyncio.wait_for(reader, 5)
    return run, frames


def replay(frames: list[bytes]) -> Recorder:
    handler = Recorder()
    for frame in frames:
        lines = frame.decode().split("\n")
        if lines[0].startswith("id: "):  # the event id (resumable streams); SDKs ignore it
            lines = lines[1:]
        name, data = lines[:2]
        if name == "event: done":
            break
        payload = json.loads(data[len("data: ") :])
        event = construct_type(
            type_=AssistantStreamEvent, value={"event": name[7:], "data": payload}
        )
        handler._emit_sse_event(event)  # type: ignore[arg-type]
    return handler


async def test_text_run_end_to_end(fake: FakeUpstream, client: UpstreamClient) -> None:
    fake.script(Turn(text="The weather is nice today", itl_s=0.001))
    run, frames = await stream_once(fake, client)
    assert run.status == "completed" and run.usage is not None and run.expires_at is None
    assert frames[-1] == b"event: done\ndata: [DONE]\n\n"
    handler = replay(frames)
    assert ("text_done", "The weather is nice today") in handler.calls
    assert handler.current_run is not None and handler.current_run.status == "completed"
    assert fake.requests[0]["tools"] == [FUNCTION]


async def test_function_run_end_to_end(fake: FakeUpstream, client: UpstreamClient) -> None:
    calls = [
        Call("get_weather", '{"city": "Paris"}', id="call_p"),
        Call("get_weather", '{"city": "Oslo"}', id="call_o"),
    ]
    fake.script(Turn(tool_calls=calls))
    run, frames = await stream_once(fake, client)
    assert run.status == "requires_action" and run.required_action is not None
    ids = [c.id for c in run.required_action.submit_tool_outputs.tool_calls]
    assert ids == ["call_p", "call_o"]
    handler = replay(frames)
    created = [c for c in handler.calls if c[0] == "tool_created"]
    assert created == [("tool_created", "call_p"), ("tool_created", "call_o")]
    final = handler.current_run
    assert final is not None and final.required_action is not None
    assert final.required_action.submit_tool_outputs.tool_calls[1].function.arguments == (
        '{"city": "Oslo"}'
    )


async def test_upstream_failure_end_to_end(fake: FakeUpstream, client: UpstreamClient) -> None:
    fake.script(Turn(text="one two three four", malformed_after=2))
    run, frames = await stream_once(fake, client)
    assert run.status == "failed" and run.last_error is not None
    assert run.last_error.code == "server_error"
    handler = replay(frames)
    assert ("message_done", "incomplete") in handler.calls
    assert ("step_done", "failed") in handler.calls
    assert frames[-1] == b"event: done\ndata: [DONE]\n\n"


async def test_rate_limit_end_to_end(fake: FakeUpstream, client: UpstreamClient) -> None:
    fake.script(*[Fail(429, "Too many requests", retry_after="0")] * 3)
    run, _ = await stream_once(fake, client)
    assert run.last_error is not None and run.last_error.code == "rate_limit_exceeded"
    assert "Too many requests" in run.last_error.message
