"""Typed stream events, SSE encoding and the in-process broker."""

from __future__ import annotations

import asyncio
import contextlib
import json

from assistantd.events import models as ev
from assistantd.events.broker import SLOW_CONSUMER_FRAME, LocalBroker
from assistantd.events.sse import DONE_FRAME, encode
from assistantd.messages.deltas import MessageDelta, MessageDeltaEvent, TextDelta, TextDeltaBlock
from assistantd.run_steps.schemas import (
    FunctionDelta,
    FunctionToolCallDelta,
    RunStepDelta,
    RunStepDeltaEvent,
    ToolCallDeltaObject,
)
from assistantd.runs import events as run_events
from assistantd.runs.schemas import Run


def make_run(status: str = "queued") -> Run:
    return Run.model_validate(
        {
            "id": "run_1",
            "created_at": 1,
            "thread_id": "thread_1",
            "assistant_id": "asst_1",
            "model": "gpt-4o",
            "status": status,
        }
    )


def parse(frame: bytes) -> tuple[str, object]:
    text = frame.decode()
    assert text.endswith("\n\n")
    lines = text[:-2].split("\n")
    if lines[0].startswith("id: "):  # broker frames carry their event id
        lines = lines[1:]
    event_line, data_line = lines
    assert event_line.startswith("event: ") and data_line.startswith("data: ")
    data = data_line[len("data: ") :]
    return event_line[len("event: ") :], data if data == "[DONE]" else json.loads(data)


def text_delta(value: str, first: bool = False) -> ev.ThreadMessageDelta:
    text = TextDelta(value=value, annotations=[] if first else None)
    delta = MessageDelta(content=[TextDeltaBlock(index=0, text=text)])
    return ev.ThreadMessageDelta(data=MessageDeltaEvent(id="msg_1", delta=delta))


def test_object_frames_keep_nulls() -> None:
    name, data = parse(encode(run_events.ThreadRunCreated(data=make_run())))
    assert name == "thread.run.created"
    assert isinstance(data, dict)
    assert data["started_at"] is None and data["usage"] is None
    assert b"\n" not in encode(run_events.ThreadRunCreated(data=make_run()))[:-2].split(b"\n", 1)[1]


def test_delta_frames_carry_only_what_changed() -> None:
    assert parse(encode(text_delta("Hi", first=True))) == (
        "thread.message.delta",
        {
            "id": "msg_1",
            "object": "thread.message.delta",
            "delta": {
                "content": [
                    {"index": 0, "type": "text", "text": {"value": "Hi", "annotations": []}}
                ]
            },
        },
    )
    assert parse(encode(text_delta(" there")))[1] == {
        "id": "msg_1",
        "object": "thread.message.delta",
        "delta": {"content": [{"index": 0, "type": "text", "text": {"value": " there"}}]},
    }
    call = FunctionToolCallDelta(index=1, function=FunctionDelta(arguments='{"a'))
    step = RunStepDeltaEvent(
        id="step_1", delta=RunStepDelta(step_details=ToolCallDeltaObject(tool_calls=[call]))
    )
    _, data = parse(encode(ev.ThreadRunStepDelta(data=step)))
    assert data == {
        "id": "step_1",
        "object": "thread.run.step.delta",
        "delta": {
            "step_details": {
                "type": "tool_calls",
                "tool_calls": [{"index": 1, "type": "function", "function": {"arguments": '{"a'}}],
            }
        },
    }


def test_error_frame_is_flat_and_wrapped() -> None:
    frame = encode(ev.ErrorEvent(data=ev.ErrorData(message="boom")))
    name, data = parse(frame)
    flat = {"message": "boom", "type": "server_error", "param": None, "code": "server_error"}
    assert name == "error"
    assert data == {**flat, "error": flat}


def test_done_frame() -> None:
    assert encode(ev.Done()) == DONE_FRAME == b"event: done\ndata: [DONE]\n\n"


def test_event_lookup_from_state_names() -> None:
    assert isinstance(
        run_events.run_event("thread.run.failed", make_run()), run_events.ThreadRunFailed
    )
    assert (
        run_events.ThreadRunRequiresAction.ends_stream
        and not run_events.ThreadRunQueued.ends_stream
    )
    assert set(run_events.RUN_EVENTS) == {
        f"thread.run.{s}"
        for s in [
            "created",
            "queued",
            "in_progress",
            "requires_action",
            "completed",
            "incomplete",
            "failed",
            "cancelling",
            "cancelled",
            "expired",
        ]
    }
    assert len(ev.STEP_EVENTS) == 6


async def collect(sub: object) -> list[bytes]:
    return [frame async for frame in sub]  # type: ignore[attr-defined]


async def test_fan_out_and_done_after_terminal() -> None:
    broker = LocalBroker(keepalive_s=None)
    broker.open("run_1")
    subs = [broker.subscribe("run_1") for _ in range(3)]
    tasks = [asyncio.create_task(collect(s)) for s in subs]
    broker.publish("run_1", run_events.ThreadRunCreated(data=make_run()))
    await asyncio.sleep(0)
    broker.publish("run_1", text_delta("a", first=True))
    broker.publish("run_1", run_events.ThreadRunCompleted(data=make_run("completed")))
    results = await asyncio.gather(*tasks)
    names = [parse(f)[0] for f in results[0]]
    assert names == ["thread.run.created", "thread.message.delta", "thread.run.completed", "done"]
    assert results[0] == results[1] == results[2]
    assert broker.subscribe("run_1").closed  # the segment ended: a new reader gets no live part


async def test_late_subscriber_gets_history_then_live() -> None:
    broker = LocalBroker(keepalive_s=None, max_backlog=2)
    broker.open("run_1")
    for i in range(10):  # history larger than the backlog limit: replay is not backlog
        broker.publish("run_1", text_delta(str(i)))
    late = broker.subscribe("run_1")
    task = asyncio.create_task(collect(late))
    await asyncio.sleep(0)
    broker.publish("run_1", text_delta("live"))
    broker.publish("run_1", run_events.ThreadRunCompleted(data=make_run("completed")))
    frames = await task
    assert len(frames) == 13 and frames[-1] == DONE_FRAME
    assert parse(frames[10])[1]["delta"]["content"][0]["text"]["value"] == "live"  # type: ignore[index]


async def test_slow_subscriber_is_dropped_publisher_never_blocks() -> None:
    broker = LocalBroker(keepalive_s=None, max_backlog=3)
    broker.open("run_1")
    slow = broker.subscribe("run_1")  # never read while publishing
    fast = broker.subscribe("run_1")
    fast_task = asyncio.create_task(collect(fast))
    for i in range(10):
        broker.publish("run_1", text_delta(str(i)))
        await asyncio.sleep(0)
    broker.publish("run_1", run_events.ThreadRunCompleted(data=make_run("completed")))
    assert len(await fast_task) == 12
    assert slow.dropped
    assert await collect(slow) == [SLOW_CONSUMER_FRAME, DONE_FRAME]


async def test_keepalive_on_idle_and_detach() -> None:
    broker = LocalBroker(keepalive_s=0.01)
    broker.open("run_1")
    sub = broker.subscribe("run_1")
    iterator = sub.__aiter__()
    assert (await anext(iterator)).startswith(b": ping - ")
    sub.detach()
    broker.publish("run_1", text_delta("x"))  # no longer delivered
    broker.close("run_1")
    sub.close()
    assert [f async for f in iterator] == [DONE_FRAME]


async def test_unknown_run() -> None:
    broker = LocalBroker()
    assert await collect(broker.subscribe("run_x")) == [DONE_FRAME]
    broker.publish("run_x", text_delta("x"))  # nobody listens: dropped, no error


async def test_reopen_starts_a_fresh_segment() -> None:
    broker = LocalBroker(keepalive_s=None)
    broker.open("run_1")
    broker.publish("run_1", run_events.ThreadRunRequiresAction.model_construct(data=make_run()))
    assert broker.subscribe("run_1").closed  # the segment ended: a new reader gets no live part
    broker.open("run_1")
    sub = broker.subscribe("run_1")
    broker.publish("run_1", run_events.ThreadRunQueued(data=make_run()))
    broker.publish("run_1", ev.ErrorEvent(data=ev.ErrorData(message="x")))
    names = [parse(f)[0] for f in await collect(sub)]
    assert names == ["thread.run.queued", "error", "done"]


async def test_leaving_the_loop_detaches() -> None:
    broker = LocalBroker(keepalive_s=None)
    broker.open("run_1")
    sub = broker.subscribe("run_1")
    broker.publish("run_1", text_delta("a"))
    async with contextlib.aclosing(sub.__aiter__()) as frames:
        async for _ in frames:
            break  # the client went away after one frame (a cancelled response closes the same way)
    for i in range(10_000):  # nothing accumulates for it, nothing is dropped
        broker.publish("run_1", text_delta(str(i)))
    assert not sub.dropped


async def test_closed_segments_are_kept_for_resumes_within_bounds() -> None:
    broker = LocalBroker(keepalive_s=None, max_retained=2)
    for run_id in ("run_1", "run_2", "run_3"):
        broker.open(run_id)
        broker.publish(run_id, text_delta("a"))
        broker.publish(run_id, run_events.ThreadRunCompleted(data=make_run("completed")))
    assert len(await collect(broker.subscribe("run_3"))) == 3  # replayed after its end
    assert await collect(broker.subscribe("run_1")) == [DONE_FRAME]  # the oldest: let go
    expiring = LocalBroker(keepalive_s=None, ttl_s=0)
    expiring.open("run_1")
    expiring.publish("run_1", run_events.ThreadRunCompleted(data=make_run("completed")))
    await asyncio.sleep(0.01)
    assert await collect(expiring.subscribe("run_1")) == [DONE_FRAME]  # past its TTL


async def test_closed_segments_are_kept_within_a_byte_bound() -> None:
    # a count alone bounds little: one segment holds every frame of its runs' stretch
    broker = LocalBroker(keepalive_s=None, max_retained_bytes=20_000)
    for n in range(20):
        run_id = f"run_{n}"
        broker.open(run_id)
        for _ in range(10):
            broker.publish(run_id, text_delta("x" * 900))  # ~1 KB a frame, ~10 KB a segment
        broker.publish(run_id, run_events.ThreadRunCompleted(data=make_run("completed")))
    assert broker._retained_bytes <= 20_000
    assert broker._retained_bytes == sum(s.size for s, _ in broker._closed.values())
    assert len(await collect(broker.subscribe("run_19"))) == 12  # the newest: replayed
    assert await collect(broker.subscribe("run_0")) == [DONE_FRAME]  # the oldest: let go
