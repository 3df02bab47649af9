"""Responses built straight from what we hold: JSON from our schemas (no re-validation, one
serialisation), and event streams of frames encoded already."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, Protocol

import anyio
from sse_starlette import EventSourceResponse
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

log = logging.getLogger(__name__)

STREAM_HEADERS = {"Cache-Control": "no-cache"}
CLEANUP_TIMEOUT_S = EventSourceResponse.DEFAULT_CLEANUP_TIMEOUT


async def _no_frames() -> AsyncIterator[bytes]:
    return
    yield  # pragma: no cover


# The headers of every stream, as sse-starlette's response makes them (built once).
_HEADERS: list[tuple[bytes, bytes]] = EventSourceResponse(
    _no_frames(), headers=STREAM_HEADERS
).raw_headers
_END: Message = {"type": "http.response.body", "body": b"", "more_body": False}
_open: set[EventStream] = set()  # the streams being sent


class Serialisable(Protocol):
    """A schema, or anything that renders its JSON the same way (e.g. db.documents.RawPage)."""

    def model_dump_json(self) -> str: ...


class ObjectResponse(Response):
    media_type = "application/json"

    def __init__(
        self, obj: Serialisable, *, status_code: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(obj.model_dump_json().encode(), status_code=status_code, headers=headers)


class EventStream(Response):
    """A run's SSE frames (bytes, encoded once by the broker), streamed by the request's own
    task and one task that waits for the client to go away.

    What clients see is sse-starlette's `EventSourceResponse`'s: its headers (taken from one
    built at import), its keep-alive comment (events.sse.keepalive_frame, which the
    subscription sends after 15 s of silence), HEAD answered with the headers and no body, a
    client that goes away ending the stream, and open streams cut when the server shuts down
    (`stop_streams`, from serving.DrainingServer).

    Not its machinery: `EventSourceResponse` runs four tasks per response in an anyio task
    group (the stream, a ping loop, a disconnect listener, a shutdown listener), which an idle
    stream holds as long as it is open: 101.7 -> 81.5 KB of RSS and 117 fewer objects the
    collector tracks per open idle stream without them (bench/memory_bench.py,
    docs/performance.md). Here a disconnect (seen by the task on `receive`: uvicorn's `send`
    never fails once the client is gone) and a shutdown cancel the request's task while it
    waits for a frame or sends one; a failed send closes the frames' iterator first, within
    the cleanup timeout, as sse-starlette does.
    """

    media_type = "text/event-stream"

    def __init__(self, frames: AsyncIterable[bytes]) -> None:
        self._frames = frames
        self.status_code = 200
        self.background = None
        self.raw_headers = list(_HEADERS)  # a copy: a middleware may add to a response's own
        self._task: asyncio.Task[Any] | None = None
        self._streaming = False  # sending frames: `stop` may cancel the task
        self._stopped = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = {"type": "http.response.start", "status": 200, "headers": self.raw_headers}
        await send(start)
        if scope["method"] == "HEAD":  # as sse-starlette: headers only, the stream not started
            await send(_END)
            return
        task = self._task = asyncio.current_task()
        assert task is not None
        self._streaming = True
        watcher = asyncio.get_running_loop().create_task(self._watch(receive))
        _open.add(self)
        try:
            async for frame in self._frames:
                await send({"type": "http.response.body", "body": frame, "more_body": True})
        except asyncio.CancelledError:
            self._streaming = False
            ours = self._stopped and task.uncancel() == 0  # not also cancelled from outside
            await self._close_frames()
            if ours:
                return  # the client went away, or the server stops: the stream ends here
            raise
        except BaseException:
            self._streaming = False
            await self._close_frames()
            raise
        finally:
            self._streaming = False
            _open.discard(self)
            watcher.cancel()
        await send(_END)

    def stop(self) -> None:
        """End the stream now (its client went away, or the server shuts down): cancels the
        request's task while it waits for a frame or sends one, never afterwards."""
        if self._streaming and not self._stopped and self._task is not None:
            self._stopped = True
            self._task.cancel()

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.stop()

    async def _close_frames(self) -> None:
        """A generator cut short at a `yield` (a failed or cancelled send) runs its cleanup
        (the subscription detaches), within a bound, as sse-starlette does."""
        aclose = getattr(self._frames, "aclose", None)
        if aclose is not None:
            with anyio.move_on_after(CLEANUP_TIMEOUT_S, shield=True):
                try:
                    await aclose()
                except Exception:
                    log.exception("closing a stream's frames failed")


def stop_streams() -> int:
    """Server shutdown: end every open stream (as sse-starlette does on uvicorn's exit);
    how many were open."""
    streams = list(_open)
    for stream in streams:
        stream.stop()
    return len(streams)
