"""In-process event broker: per-run fan-out with replay, bounded per-subscriber buffers.

A run's events form *segments*: a segment opens when a run (or a resumed run, after
`submit_tool_outputs`) starts streaming and closes after an event with `ends_stream` (terminal
run event, `requires_action`, `error`). Within a segment:

* `publish` encodes the event once and appends the frame to the segment's history and to every
  subscriber's buffer; it never awaits, so a slow subscriber cannot block the executor.
* A subscriber that attaches late first receives the whole history, then live frames.
* A subscriber whose live backlog exceeds `max_backlog` frames is dropped: its stream ends with
  an `error` frame and `done`, the run goes on.
* After the segment closes, subscribers drain their buffers and end with the `done` frame.

The broker is a small protocol seam: a cross-process implementation (e.g. Redis Streams) can
replace it without changes above.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncGenerator

from assistantd.events.models import ErrorData, ErrorEvent, StreamEvent
from assistantd.events.sse import DONE_FRAME, KEEPALIVE_FRAME, encode

SLOW_CONSUMER_FRAME = encode(
    ErrorEvent(data=ErrorData(message="The stream fell too far behind and was closed."))
)


class Subscription:
    """One reader of a segment. Iterate it (`async for frame in sub`) to get SSE frames."""

    def __init__(
        self,
        history: list[bytes],
        max_backlog: int,
        keepalive_s: float | None,
        segment: Segment | None = None,
    ) -> None:
        self._segment = segment
        self._frames: deque[bytes] = deque(history)
        self._replay_left = len(history)  # replayed history never counts as backlog
        self._max_backlog = max_backlog
        self._keepalive_s = keepalive_s
        self._waiter: asyncio.Future[bool] | None = None
        self.closed = False
        self.dropped = False

    def push(self, frame: bytes) -> bool:
        """Queue a frame; False (and the subscriber is dropped) when its backlog is full."""
        if self.dropped or self.closed:
            return False
        if len(self._frames) - self._replay_left >= self._max_backlog:
            self.dropped = True
            self._frames.clear()
            self._replay_left = 0
        else:
            self._frames.append(frame)
        self._wake(True)
        return not self.dropped

    def close(self) -> None:
        self.closed = True
        self._wake(True)

    def _wake(self, value: bool) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(value)

    def detach(self) -> None:
        """Stop receiving (the client went away); the run is unaffected."""
        if self._segment is not None:
            self._segment.subscribers.discard(self)
            self._segment = None

    async def __aiter__(self) -> AsyncGenerator[bytes, None]:
        """The frames: history, live events, then `done`. Leaving the loop early detaches."""
        frames = self._frames
        try:
            while True:
                while frames:
                    if self._replay_left:
                        self._replay_left -= 1
                    yield frames.popleft()
                if self.dropped:
                    yield SLOW_CONSUMER_FRAME
                    yield DONE_FRAME
                    return
                if self.closed:
                    yield DONE_FRAME
                    return
                if not await self._wait():
                    yield KEEPALIVE_FRAME
        finally:
            self.detach()

    async def _wait(self) -> bool:
        """Wait for news; False when the keep-alive interval passed first.

        One bare future per wait (no task, unlike asyncio.wait_for): this is the hot path.
        """
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiter = waiter
        timer = None
        if self._keepalive_s is not None:
            timer = loop.call_later(self._keepalive_s, self._wake, False)
        try:
            return await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()


class Segment:
    """The events of one streaming stretch of a run: history plus live subscribers."""

    def __init__(self) -> None:
        self.history: list[bytes] = []
        self.subscribers: set[Subscription] = set()
        self.closed = False


class Broker:
    """Per-run fan-out. `open` before the run starts, `publish` from the executor, `subscribe`
    from the HTTP layer (before scheduling the run, or late: history is replayed)."""

    def __init__(self, *, max_backlog: int = 4096, keepalive_s: float | None = 15.0) -> None:
        self._segments: dict[str, Segment] = {}
        self._max_backlog = max_backlog
        self._keepalive_s = keepalive_s

    def open(self, run_id: str) -> None:
        """Start a new segment for `run_id` (closing any previous one)."""
        self.close(run_id)
        self._segments[run_id] = Segment()

    def is_open(self, run_id: str) -> bool:
        return run_id in self._segments

    def subscribe(self, run_id: str) -> Subscription:
        """Attach to the run's current segment; a run with no open segment yields only `done`."""
        segment = self._segments.get(run_id)
        if segment is None:
            sub = Subscription([], self._max_backlog, self._keepalive_s)
            sub.close()
            return sub
        sub = Subscription(segment.history, self._max_backlog, self._keepalive_s, segment)
        segment.subscribers.add(sub)
        return sub

    def unsubscribe(self, run_id: str, sub: Subscription) -> None:
        """Detach (a client went away); the run is unaffected. Same as `sub.detach()`."""
        sub.detach()

    def publish(self, run_id: str, event: StreamEvent) -> None:
        """Encode once, record, fan out; closes the segment after an `ends_stream` event.

        With no open segment (nobody could be listening) the event is dropped: the store, not
        the broker, is the record of a run.
        """
        segment = self._segments.get(run_id)
        if segment is None:
            return
        frame = encode(event)
        segment.history.append(frame)
        dropped = [sub for sub in segment.subscribers if not sub.push(frame)]
        segment.subscribers.difference_update(dropped)
        if event.ends_stream:
            self.close(run_id)

    def close(self, run_id: str) -> None:
        """End the segment: subscribers drain and finish with `done`."""
        segment = self._segments.pop(run_id, None)
        if segment is None:
            return
        segment.closed = True
        for sub in segment.subscribers:
            sub.close()
