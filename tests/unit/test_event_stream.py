"""EventStream: the frames go out as they are, one send each, with sse-starlette's headers and
keep-alive comment; a client that goes away, a failed send or the server's shutdown closes the
frames' iterator, so its subscription ends; HEAD answers with the headers only."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sse_starlette import EventSourceResponse
from sse_starlette.event import ServerSentEvent, ensure_bytes

from assistantd.events.broker import LocalBroker
from assistantd.events.sse import keepalive_frame
from assistantd.responses import EventStream, stop_streams

FRAMES = [b"id: s.1\nevent: thread.run.created\ndata: {}\n\n", b"event: done\n"]
SCOPE = {"type": "http", "method": "POST", "asgi": {"spec_version": "2.3"}}
# sse-starlette's ping comment: `: ping - <datetime.now(timezone.utc)>`, CRLF-separated
PING = re.compile(rb": ping - \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00\r\n\r\n")


async def frames(closed: list[bool], hold: asyncio.Event | None = None) -> AsyncIterator[bytes]:
    try:
        for frame in FRAMES:
            yield frame
        if hold is not None:
            await hold.wait()
    finally:
        closed.append(True)


async def serve(
    response: Any, send: Any, disconnect: asyncio.Event | None = None, method: str = "POST"
) -> None:
    async def receive() -> dict[str, Any]:
        if disconnect is None:
            await asyncio.Event().wait()
        else:
            await disconnect.wait()
        return {"type": "http.disconnect"}

    await response({**SCOPE, "method": method}, receive, send)


async def test_frames_go_out_unchanged_with_sse_starlettes_headers() -> None:
    sent: list[dict[str, Any]] = []
    reference: list[dict[str, Any]] = []

    async def record(message: dict[str, Any]) -> None:
        sent.append(message)

    async def record_reference(message: dict[str, Any]) -> None:
        reference.append(message)

    closed: list[bool] = []
    await serve(EventStream(frames(closed)), record)
    original = EventSourceResponse(frames([]), headers={"Cache-Control": "no-cache"})
    await serve(original, record_reference)
    assert sent[0] == reference[0]  # status and headers
    assert dict(sent[0]["headers"])[b"content-type"] == b"text/event-stream; charset=utf-8"
    assert dict(sent[0]["headers"])[b"cache-control"] == b"no-cache"
    assert [m["body"] for m in sent[1:-1]] == FRAMES
    assert all(m["more_body"] for m in sent[1:-1])
    assert sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert sent == reference
    assert closed == [True]


async def test_head_sends_the_headers_only_as_sse_starlette() -> None:
    sent: list[dict[str, Any]] = []
    reference: list[dict[str, Any]] = []

    async def record(message: dict[str, Any]) -> None:
        sent.append(message)

    async def record_reference(message: dict[str, Any]) -> None:
        reference.append(message)

    started: list[bool] = []
    await serve(EventStream(frames(started)), record, method="HEAD")
    original = EventSourceResponse(frames([]), headers={"Cache-Control": "no-cache"})
    await serve(original, record_reference, method="HEAD")
    assert sent == reference
    assert [m.get("body") for m in sent[1:]] == [b""]
    assert started == []  # the stream never started


def test_the_keepalive_frame_is_sse_starlettes_ping() -> None:
    ping = keepalive_frame()
    assert PING.fullmatch(ping), ping
    stamp = ping.removeprefix(b": ping - ").removesuffix(b"\r\n\r\n").decode()
    reference = ServerSentEvent(comment=f"ping - {stamp}", sep="\r\n")
    assert ensure_bytes(reference, "\r\n") == ping


async def test_an_idle_subscription_sends_keepalives() -> None:
    """The broker's subscription is what pings now (sse-starlette's ping task is gone)."""
    broker = LocalBroker(keepalive_s=0.01)
    broker.open("run_1")
    subscription = broker.subscribe("run_1")
    sent: list[dict[str, Any]] = []
    pinged = asyncio.Event()

    async def record(message: dict[str, Any]) -> None:
        sent.append(message)
        if len(sent) == 3:
            pinged.set()

    async def drive() -> None:
        await pinged.wait()
        broker.close("run_1")

    await asyncio.wait_for(
        asyncio.gather(serve(EventStream(aiter(subscription)), record), drive()), 10
    )
    bodies = [m["body"] for m in sent[1:-1]]
    assert PING.fullmatch(bodies[0]) and PING.fullmatch(bodies[1]), bodies
    assert bodies[-1] == b"event: done\ndata: [DONE]\n\n"


async def test_a_disconnect_closes_the_frames() -> None:
    closed: list[bool] = []
    hold, gone = asyncio.Event(), asyncio.Event()
    sent: list[dict[str, Any]] = []

    async def record(message: dict[str, Any]) -> None:
        sent.append(message)
        if len(sent) == 1 + len(FRAMES):
            gone.set()  # the client hangs up while the stream waits for the next frame

    await asyncio.wait_for(serve(EventStream(frames(closed, hold)), record, gone), 10)
    assert closed == [True]
    assert [m["body"] for m in sent[1:]] == FRAMES  # no end of the body: nobody to read it


async def test_a_disconnect_detaches_the_subscription() -> None:
    broker = LocalBroker(keepalive_s=None)
    broker.open("run_1")
    subscription = broker.subscribe("run_1")
    gone = asyncio.Event()

    async def record(message: dict[str, Any]) -> None:
        gone.set()

    await asyncio.wait_for(serve(EventStream(aiter(subscription)), record, gone), 10)
    assert broker._segments["run_1"].subscribers == set()  # the run goes on, unread


async def test_a_failed_send_closes_the_frames_and_raises() -> None:
    closed: list[bool] = []
    hold = asyncio.Event()

    async def broken(message: dict[str, Any]) -> None:
        if message.get("body"):
            raise OSError("connection reset")

    with pytest.raises(OSError):
        await asyncio.wait_for(serve(EventStream(frames(closed, hold)), broken), 10)
    assert closed == [True]


async def test_shutdown_ends_open_streams() -> None:
    closed: list[bool] = []
    hold, waiting = asyncio.Event(), asyncio.Event()
    sent: list[dict[str, Any]] = []

    async def record(message: dict[str, Any]) -> None:
        sent.append(message)
        if len(sent) == 1 + len(FRAMES):
            waiting.set()

    served = asyncio.ensure_future(serve(EventStream(frames(closed, hold)), record))
    await asyncio.wait_for(waiting.wait(), 10)
    assert stop_streams() == 1
    await asyncio.wait_for(served, 10)  # ends without raising
    assert closed == [True]
    assert [m["body"] for m in sent[1:]] == FRAMES  # cut, as sse-starlette cuts it
    assert stop_streams() == 0


async def test_a_cancel_from_outside_still_cancels() -> None:
    closed: list[bool] = []
    hold, waiting = asyncio.Event(), asyncio.Event()

    async def record(message: dict[str, Any]) -> None:
        if message.get("body") == FRAMES[-1]:
            waiting.set()

    served = asyncio.ensure_future(serve(EventStream(frames(closed, hold)), record))
    await asyncio.wait_for(waiting.wait(), 10)
    served.cancel()
    with pytest.raises(asyncio.CancelledError):
        await served
    assert closed == [True]
    assert stop_streams() == 0
