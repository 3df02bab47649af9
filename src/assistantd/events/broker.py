"""Event brokers: the `Broker` protocol and the in-process broker (`LocalBroker`).

A run's events form *segments*: a segment opens when a run (or a resumed run, after
`submit_tool_outputs`) starts streaming and closes after an event with `ends_stream` (terminal
run event, `requires_action`, `error`). Within a segment:

* `publish` encodes the event once and appends the frame to the segment's history and to every
  subscriber's buffer; it never awaits, so a slow subscriber cannot block the executor.
* A subscriber that attaches late first receives the whole history, then live frames.
* A subscriber whose live backlog exceeds `max_backlog` frames is dropped: its stream ends with
  an `error` frame and `done`, the run goes on.
* After the segment closes, subscribers drain their buffers and end with the `done` frame.
* Every frame carries an SSE `id:` (`<segment>.<n>`, n counting from 1 in the segment), so a
  client can resume: `subscribe(run_id, after=id)` replays what followed that event in its
  segment and goes on live. A closed segment stays readable for `ttl_s` seconds (in-process:
  the `max_retained` most recent ones).

Two implementations: `LocalBroker` (this module; one process, the default) and
`events.redis_broker.RedisBroker` (Redis Streams; any process can serve any run's stream).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from typing import Protocol

from assistantd.events.models import ErrorData, ErrorEvent, StreamEvent
from assistantd.events.sse import DONE_FRAME, encode, keepalive_frame

SLOW_CONSUMER_FRAME = encode(
    ErrorEvent(data=ErrorData(message="The stream fell too far behind and was closed."))
)
EXPIRED_FRAME = encode(
    ErrorEvent(data=ErrorData(message="The events after this id are no longer available."))
)


def frame_id(segment: str, n: int) -> bytes:
    return b"id: " + f"{segment}.{n}".encode() + b"\n"


def parse_event_id(value: str) -> tuple[str, int] | None:
    """`<segment>.<n>` -> (segment, n); None when it is not one of our ids."""
    segment, dot, n = value.partition(".")
    if not dot or not segment.isalnum() or not n.isdigit() or len(value) > 64:
        return None
    return segment, int(n)


def new_segment_id() -> str:
    return secrets.token_hex(4)


class Subscription(Protocol):
    """One reader of a segment: iterate it for SSE frames (ending with `done`)."""

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    def detach(self) -> None:
        """Stop receiving (the client went away); the run is unaffected."""


class Broker(Protocol):
    """Per-run fan-out. `open` before the run starts, `publish` from the executor, `subscribe`
    from the HTTP layer (before scheduling the run, or late: history is replayed)."""

    shared: bool
    """True when every process reads the events this one publishes (Redis)."""

    def open(self, run_id: str) -> None:
        """Start a new segment for `run_id` (closing any previous one)."""

    def subscribe(self, run_id: str, after: str | None = None) -> Subscription:
        """Attach to the run's current segment (or, with `after`, to the rest of the segment
        of that event id); a run with no segment yields only `done`."""

    def publish(self, run_id: str, event: StreamEvent) -> None:
        """Never blocks. Closes the segment after an `ends_stream` event; with no open segment
        the event is dropped (the store, not the broker, is the record of a run)."""

    def close(self, run_id: str) -> None:
        """End the segment: subscribers drain and finish with `done`."""

    async def flush(self) -> None:
        """Wait (bounded) until what was published so far is visible to every process."""

    def fence(self, run_id: str, attempt: int) -> None:
        """This process publishes the run's events as lease attempt `attempt` (until
        `unfence`): a shared broker refuses them once a later attempt has the run."""

    def unfence(self, run_id: str) -> None:
        """This process no longer executes the run: its events carry no attempt."""

    async def supersede(self, attempts: Mapping[str, int]) -> None:
        """Claims just made (run id -> new attempt), before they commit: the events of lower
        attempts are refused from now on (bounded, best effort)."""

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


class LocalSubscription:
    """A reader of a `LocalBroker` segment. Iterate it (`async for frame in sub`)."""

    def __init__(
        self,
        history: list[bytes],
        max_backlog: int,
        keepalive_s: float | None,
        segment: Segment | None = None,
        *,
        head: bytes | None = None,
    ) -> None:
        self._segment = segment
        self._frames: deque[bytes] = deque(history)
        if head is not None:
            self._frames.appendleft(head)
        self._replay_left = len(self._frames)  # replayed history never counts as backlog
        self._max_backlog = max_backlog
        self._keepalive_s = keepalive_s
        self._waiter: asyncio.Future[bool] | None = None
        # keep-alives: one timer per subscription, re-armed from the last news (not a timer
        # per wait, which is one per streamed token)
        self._timer: asyncio.TimerHandle | None = None
        self._last_frame_at = 0.0
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
                    yield keepalive_frame()
        finally:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self.detach()

    async def _wait(self) -> bool:
        """Wait for news; False when `keepalive_s` passed with no frame.

        One bare future per wait (no task, unlike asyncio.wait_for): this is the hot path.
        """
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[bool] = loop.create_future()
        self._waiter = waiter
        if self._keepalive_s is not None and self._timer is None:
            self._last_frame_at = loop.time()
            self._timer = loop.call_later(self._keepalive_s, self._tick)
        try:
            news = await waiter
        finally:
            self._waiter = None
        if news and self._timer is not None:
            self._last_frame_at = loop.time()  # once per wake-up, not per frame
        return news

    def _tick(self) -> None:
        """The keep-alive timer: wake the waiting reader once `keepalive_s` passed since the
        last news (or the arming); otherwise wait for the rest of that interval."""
        keepalive_s = self._keepalive_s
        assert keepalive_s is not None
        loop = asyncio.get_running_loop()
        due = self._last_frame_at + keepalive_s
        if due <= loop.time() + 0.001:
            self._wake(False)
            self._last_frame_at = loop.time()
            due = self._last_frame_at + keepalive_s
        self._timer = loop.call_at(due, self._tick)


class Segment:
    """The events of one streaming stretch of a run: history plus live subscribers."""

    def __init__(self, segment_id: str) -> None:
        self.id = segment_id
        self.history: list[bytes] = []
        self.size = 0  # bytes of `history`
        self.subscribers: set[LocalSubscription] = set()
        self.closed = False


class LocalBroker:
    """The in-process `Broker`: one process serves its own runs' streams."""

    shared = False

    def __init__(
        self,
        *,
        max_backlog: int = 4096,
        keepalive_s: float | None = 15.0,
        ttl_s: float = 600.0,
        max_retained: int = 1000,
        max_retained_bytes: int = 32 * 1024 * 1024,
    ) -> None:
        self._segments: dict[str, Segment] = {}
        # closed segments kept for resumes: run id -> (segment, monotonic expiry), oldest first
        self._closed: OrderedDict[str, tuple[Segment, float]] = OrderedDict()
        self._max_backlog = max_backlog
        self._keepalive_s = keepalive_s
        self._ttl_s = ttl_s
        self._max_retained = max_retained  # closed segments kept at most (memory bound)
        # and their frames' bytes at most: a segment holds every frame of its stretch (each run,
        # step and message event a whole object; tens of KB for a short run, a delta per
        # token for a long one), so a count alone bounds little
        self._max_retained_bytes = max_retained_bytes
        self._retained_bytes = 0

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

    async def flush(self) -> None:
        return None

    # One process serves its own runs' streams: a stale attempt elsewhere never reaches them.
    def fence(self, run_id: str, attempt: int) -> None:
        return None

    def unfence(self, run_id: str) -> None:
        return None

    async def supersede(self, attempts: Mapping[str, int]) -> None:
        return None

    def open(self, run_id: str) -> None:
        self.close(run_id)
        self._segments[run_id] = Segment(new_segment_id())
        self._purge()

    def subscribe(self, run_id: str, after: str | None = None) -> LocalSubscription:
        segment = self._segments.get(run_id)
        retained = self._closed.get(run_id)
        if retained is not None and retained[1] < time.monotonic():
            retained = None
        start, head = 0, None
        if after is not None:
            parsed = parse_event_id(after)
            if segment is not None and parsed is not None and parsed[0] == segment.id:
                start = parsed[1]
            elif retained is not None and parsed is not None and parsed[0] == retained[0].id:
                segment, start = None, parsed[1]
            else:
                segment, retained, head = None, None, EXPIRED_FRAME
        if segment is None:  # closed (a resume within the TTL replays it) or unknown
            history = retained[0].history[start:] if retained is not None else []
            sub = LocalSubscription(history, self._max_backlog, self._keepalive_s, head=head)
            sub.close()
            return sub
        sub = LocalSubscription(
            segment.history[start:], self._max_backlog, self._keepalive_s, segment
        )
        segment.subscribers.add(sub)
        return sub

    def publish(self, run_id: str, event: StreamEvent) -> None:
        segment = self._segments.get(run_id)
        if segment is None:
            return
        frame = frame_id(segment.id, len(segment.history) + 1) + encode(event)
        segment.history.append(frame)
        segment.size += len(frame)
        dropped = [sub for sub in segment.subscribers if not sub.push(frame)]
        segment.subscribers.difference_update(dropped)
        if event.ends_stream:
            self.close(run_id)

    def close(self, run_id: str) -> None:
        segment = self._segments.pop(run_id, None)
        if segment is None:
            return
        segment.closed = True
        for sub in segment.subscribers:
            sub.close()
        segment.subscribers.clear()
        self._forget(run_id)
        self._closed[run_id] = (segment, time.monotonic() + self._ttl_s)
        self._retained_bytes += segment.size
        while self._closed and (
            len(self._closed) > self._max_retained
            or self._retained_bytes > self._max_retained_bytes
        ):
            self._forget(next(iter(self._closed)))

    def _forget(self, run_id: str) -> None:
        retained = self._closed.pop(run_id, None)
        if retained is not None:
            self._retained_bytes -= retained[0].size

    def _purge(self) -> None:
        now = time.monotonic()
        while self._closed:
            run_id, (_, expires) = next(iter(self._closed.items()))
            if expires >= now:
                break
            self._forget(run_id)
