"""EventStream: the frames go out as they are, one send each, with sse-starlette's headers; a
client that goes away (or a failed send) closes the frames' iterator, so its subscription ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sse_starlette import EventSourceResponse

from assistantd.responses import EventStream

FRAMES = [b"id: s.1\nevent: thread.run.created\ndata: {}\n\n", b": ping\n\n", b"event: done\n"]
SCOPE = {"type": "http", "method": "POST", "asgi": {"spec_version": "2.3"}}


async def frames(closed: list[bool], hold: asyncio.Event | None = None) -> AsyncIterator[bytes]:
    try:
        for frame in FRAMES:
            yield frame
        if hold is not None:
            await hold.wait()
    finally:
        closed.append(True)


async def serve(response: Any, send: Any, disconnect: asyncio.Event | None = None) -> None:
    async def receive() -> dict[str, Any]:
        if disconnect is None:
            await asyncio.Event().wait()
        else:
            await disconnect.wait()
        return {"type": "http.disconnect"}

    await response(SCOPE, receive, send)


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
    assert [m["body"] for m in sent[1:]] == FRAMES


async def test_a_failed_send_closes_the_frames_and_raises() -> None:
    closed: list[bool] = []
    hold = asyncio.Event()

    async def broken(message: dict[str, Any]) -> None:
        if message.get("body"):
            raise OSError("connection reset")

    with pytest.raises(OSError):
        await asyncio.wait_for(serve(EventStream(frames(closed, hold)), broken), 10)
    assert closed == [True]
