"""The Redis `Broker`: one Redis Stream per run segment, so any process serves any run's stream.

Keys (all under the `prefix` setting; `{run_id}` is a hash tag, a run's keys share one slot):

* `<prefix>{<run_id>}:run`: a hash `seg` (the current segment id), `open` (1 while it streams),
  `n` (events in the segment so far), `a` (the highest lease attempt that published or claimed
  the run: see "Fencing" below);
* `<prefix>{<run_id>}:seg:<seg>`: the segment's stream; entry `0-<n>` holds `f` (the encoded
  SSE frame, without its `id:` line) and `e` (1 on the entry that ends the segment; an entry
  with an empty `f` only ends it).

Both expire `ttl_s` after the last event (EXPIRE on every write) and a stream keeps at most
about `maxlen` entries (XADD MAXLEN ~). A Lua script assigns `n` and appends atomically, so events
published by different processes into one segment (the API process publishes `created`, the
executing one the rest, a third one `cancelling`) get one order. The SSE id is `<seg>.<n>`.

Publishing never waits for Redis: `publish` encodes the frame and appends it to a bounded
buffer that one background task flushes in pipelines (one round trip for everything buffered
meanwhile). When Redis is slow or gone, the buffer fills up to `max_buffer` and further events
are dropped; every run that lost an event gets, once Redis answers again, an `error` event that
ends its segment, so no reader waits for events that will never come. `flush()` lets the API
side wait (bounded) before it hands a run over, so the events it published come first.

Fencing: an executor's events carry its lease attempt (`fence(run_id, attempt)` says which, for
every event this process publishes for the run until `unfence`); the scripts append them only
if `a` is not higher, and raise `a` to it. A node that claims a run (a takeover) raises `a` to
its new attempt in the claim's transaction, before that commits (`supersede`): from then on
nothing the stale attempt publishes, nor its `open`, reaches the stream, whatever it still had
buffered, and the check costs no round trip of its own (it is in the script that appends).
Events published with no attempt (the API's `created`, a `cancelling`) are not fenced.

Readers XREAD BLOCK from their last id, one pooled connection per attached stream. A reader
ends with an `error` frame and `done` when Redis fails under it, when it fell so far behind that
its next event was trimmed, or, checked when idle, when its segment vanished (TTL, restart).
Redis holds nothing else: the database stays the record of every run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, NoScriptError, RedisError

from assistantd.events.broker import (
    EXPIRED_FRAME,
    SLOW_CONSUMER_FRAME,
    frame_id,
    new_segment_id,
    parse_event_id,
)
from assistantd.events.models import ErrorData, ErrorEvent, StreamEvent
from assistantd.events.sse import DONE_FRAME, encode, keepalive_frame

log = logging.getLogger(__name__)

LOST_FRAME = encode(
    ErrorEvent(
        data=ErrorData(
            message="The event service lost events of this run; poll the run for its state."
        )
    )
)

# Lua: an attempt (0 for none) below the run's `a` gets -1 and writes nothing; a higher one
# raises `a` (and the hash expires, if it was just made). Shared by the scripts below (it
# returns nothing when it passes); the format names the attempt's and the ttl's ARGV.
_FENCED = """
local attempt = tonumber(%s)
if attempt > 0 then
  local highest = tonumber(redis.call('HGET', run, 'a') or '0')
  if attempt < highest then return -1 end
  if attempt > highest then
    redis.call('HSET', run, 'a', attempt)
    redis.call('EXPIRE', run, %s)
  end
end
"""
# KEYS[1] run hash; ARGV: stream key prefix, maxlen, ttl, attempt, then (frame, ends 0/1) pairs:
# the events of one run and attempt in one call (a flush sends each run's buffered events
# together)
_PUBLISH = (
    """
local run = KEYS[1]
"""
    + _FENCED % ("ARGV[4]", "ARGV[3]")
    + """
local state = redis.call('HMGET', run, 'open', 'seg', 'n')
if state[1] ~= '1' then return 0 end
local stream = ARGV[1] .. state[2]
local n = tonumber(state[3])
for i = 5, #ARGV - 1, 2 do
  n = n + 1
  redis.call('XADD', stream, 'MAXLEN', '~', ARGV[2], '0-' .. n, 'f', ARGV[i], 'e', ARGV[i + 1])
  if ARGV[i + 1] == '1' then
    redis.call('HSET', run, 'open', '0')
    break
  end
end
redis.call('HSET', run, 'n', n)
redis.call('EXPIRE', stream, ARGV[3])
redis.call('EXPIRE', run, ARGV[3])
return n
"""
)
# KEYS[1] run hash; ARGV: stream key prefix, new segment id, maxlen, ttl, attempt
_OPEN = (
    """
local run = KEYS[1]
"""
    + _FENCED % ("ARGV[5]", "ARGV[4]")
    + """
if redis.call('HGET', run, 'open') == '1' then
  local stream = ARGV[1] .. redis.call('HGET', run, 'seg')
  local n = redis.call('HINCRBY', run, 'n', 1)
  redis.call('XADD', stream, 'MAXLEN', '~', ARGV[3], '0-' .. n, 'f', '', 'e', '1')
  redis.call('EXPIRE', stream, ARGV[4])
end
redis.call('HSET', run, 'seg', ARGV[2], 'open', '1', 'n', 0)
redis.call('EXPIRE', run, ARGV[4])
return 1
"""
)
# KEYS[1] run hash; ARGV: attempt, ttl (a claim: later events of lower attempts are refused)
_SUPERSEDE = (
    """
local run = KEYS[1]
"""
    + _FENCED % ("ARGV[1]", "ARGV[2]")
    + """
return 1
"""
)

# (kind "open"|"pub", run id, segment id or frame, ends, attempt or 0)
_Op = tuple[str, str, bytes, bool, int]


def _same_call(op: _Op, run_id: str, attempt: int) -> bool:
    """The op is an event that can go in the same script call (one run, one attempt)."""
    return op[0] == "pub" and op[1] == run_id and op[4] == attempt


def connect(url: str, *, max_connections: int = 10_000) -> aioredis.Redis:
    """A client that fails fast (no retries: a reader must see Redis go away, not hang)."""
    return aioredis.Redis.from_url(
        url,
        socket_connect_timeout=2.0,
        retry=Retry(NoBackoff(), 0),
        max_connections=max_connections,
    )


class RedisBroker:
    shared = True

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        prefix: str = "assistantd:",
        ttl_s: int = 600,
        maxlen: int = 10_000,
        keepalive_s: float | None = None,
        idle_check_s: float = 5.0,
        max_buffer: int = 50_000,
        batch: int = 512,
        timeout_s: float = 2.0,
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._ttl_s = ttl_s
        self._maxlen = maxlen
        self._keepalive_s = keepalive_s
        self._idle_check_s = idle_check_s
        self._max_buffer = max_buffer
        self._batch = batch
        self._timeout_s = timeout_s
        self._buffer: deque[_Op] = deque()
        self._wake = asyncio.Event()
        self._progress = asyncio.Event()
        self._queued = 0  # ops appended so far
        self._done = 0  # ops sent (or given up) so far
        # runs that lost an event -> the attempt that lost it: end their segment when back
        self._lost: dict[str, int] = {}
        self._attempts: dict[str, int] = {}  # run id -> the attempt this process publishes as
        self._local: dict[str, str] = {}  # run id -> segment opened here (for `subscribe`)
        self._shas: dict[str, str] = {}
        self._flusher: asyncio.Task[None] | None = None
        self.dropped = 0  # events dropped because the buffer was full or Redis failed

    # -- keys -------------------------------------------------------------------------------------

    def _run_key(self, run_id: str) -> str:
        return f"{self._prefix}{{{run_id}}}:run"

    def _stream_base(self, run_id: str) -> str:
        return f"{self._prefix}{{{run_id}}}:seg:"

    # -- life -------------------------------------------------------------------------------------

    async def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_forever(), name="redis-event-flusher")

    async def aclose(self) -> None:
        with contextlib.suppress(TimeoutError):
            await self.flush()
        if self._flusher is not None:
            self._flusher.cancel()
            # bounded: a pipeline cancelled while Redis stalls may take long to unwind
            await asyncio.wait([self._flusher], timeout=self._timeout_s)
        await self._client.aclose()

    # -- publishing -------------------------------------------------------------------------------

    def open(self, run_id: str) -> None:
        segment = new_segment_id()
        self._local[run_id] = segment
        if len(self._local) > 10_000:  # only recent opens matter (subscribe follows open)
            del self._local[next(iter(self._local))]
        self._append(("open", run_id, segment.encode(), False, self._attempts.get(run_id, 0)))

    def publish(self, run_id: str, event: StreamEvent) -> None:
        frame = encode(event)
        self._append(("pub", run_id, frame, event.ends_stream, self._attempts.get(run_id, 0)))
        if event.ends_stream:
            self._local.pop(run_id, None)

    def close(self, run_id: str) -> None:
        self._append(("pub", run_id, b"", True, self._attempts.get(run_id, 0)))
        self._local.pop(run_id, None)

    def fence(self, run_id: str, attempt: int) -> None:
        """What this process publishes for the run from now on is attempt `attempt`'s: Redis
        refuses it once a later attempt published or claimed the run (see the module doc)."""
        self._attempts[run_id] = attempt

    def unfence(self, run_id: str) -> None:
        self._attempts.pop(run_id, None)

    async def supersede(self, attempts: Mapping[str, int]) -> None:
        """Claims (run id -> new attempt): refuse the lower attempts' events from now on. Called
        in the claim's transaction, before it commits, so a stale attempt's events never follow
        the claim. Bounded and best effort: with Redis away, the new attempt's first event
        raises the attempt instead (and a takeover never waits for Redis)."""
        if not attempts:
            return
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for run_id, attempt in attempts.items():
                    pipe.eval(_SUPERSEDE, 1, self._run_key(run_id), attempt, self._ttl_s)
                await asyncio.wait_for(pipe.execute(), self._timeout_s)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("could not fence the events of %d claimed runs (%s)", len(attempts), exc)

    async def published(self, run_id: str) -> int:
        """How many events the run's current segment has so far (from any process)."""
        await self.flush()
        count: Any = await self._client.hget(self._run_key(run_id), "n")
        return 0 if count is None else int(count)

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def _append(self, op: _Op) -> None:
        if len(self._buffer) >= self._max_buffer:
            self.dropped += 1
            self._lost[op[1]] = op[4]
            return
        self._buffer.append(op)
        self._queued += 1
        self._wake.set()

    async def flush(self) -> None:
        """Wait until what was published before the call went to Redis (at most `timeout_s`)."""
        target = self._queued
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout_s
        while self._done < target and self._flusher is not None and not self._flusher.done():
            self._progress.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._progress.wait(), remaining)

    async def _flush_forever(self) -> None:
        while True:
            if not self._buffer and not self._lost:
                self._wake.clear()
                await self._wake.wait()
            ops = [self._buffer.popleft() for _ in range(min(self._batch, len(self._buffer)))]
            lost: list[_Op] = [
                ("pub", run_id, LOST_FRAME, True, attempt) for run_id, attempt in self._lost.items()
            ]
            try:
                await asyncio.wait_for(self._send(lost + ops), self._timeout_s)
                for op in lost:
                    if self._lost.get(op[1]) == op[4]:
                        del self._lost[op[1]]
            except (RedisError, OSError, TimeoutError) as exc:
                log.warning("Redis unreachable, %d events dropped (%s)", len(ops), exc)
                self.dropped += len(ops)
                self._lost.update((op[1], op[4]) for op in ops)
                await asyncio.sleep(0.2)
            finally:
                self._done += len(ops)
                self._progress.set()

    async def _send(self, ops: list[_Op]) -> None:
        for attempt in (1, 2):
            try:
                if not self._shas:
                    await self._load_scripts()
                await self._pipeline(ops)
                return
            except NoScriptError:  # Redis restarted (nothing of this batch ran): load, again
                self._shas.clear()
            except ConnectionError:  # a pooled connection from before a restart: once more
                if attempt == 2:
                    raise

    async def _load_scripts(self) -> None:
        self._shas["pub"] = await self._client.script_load(_PUBLISH)
        self._shas["open"] = await self._client.script_load(_OPEN)

    async def _pipeline(self, ops: list[_Op]) -> None:
        """One script call per open, and per run and attempt for its consecutive events (in
        order)."""
        async with self._client.pipeline(transaction=False) as pipe:
            index = 0
            while index < len(ops):
                kind, run_id, value, _, attempt = ops[index]
                key, base = self._run_key(run_id), self._stream_base(run_id)
                if kind == "open":
                    pipe.evalsha(
                        self._shas["open"], 1, key, base, value, self._maxlen, self._ttl_s, attempt
                    )
                    index += 1
                    continue
                args: list[Any] = [base, self._maxlen, self._ttl_s, attempt]
                while index < len(ops) and _same_call(ops[index], run_id, attempt):
                    args += [ops[index][2], 1 if ops[index][3] else 0]
                    index += 1
                pipe.evalsha(self._shas["pub"], 1, key, *args)
            await pipe.execute()

    # -- reading ----------------------------------------------------------------------------------

    def subscribe(self, run_id: str, after: str | None = None) -> RedisSubscription:
        if after is not None:
            parsed = parse_event_id(after)
            if parsed is None:
                return RedisSubscription(self, run_id, None, 0, expired=True)
            return RedisSubscription(self, run_id, parsed[0], parsed[1], resume=True)
        return RedisSubscription(self, run_id, self._local.get(run_id), 0)


class RedisSubscription:
    """A reader of one segment's stream, from an id on (see the module docstring)."""

    def __init__(
        self,
        broker: RedisBroker,
        run_id: str,
        segment: str | None,
        after: int,
        *,
        resume: bool = False,
        expired: bool = False,
    ) -> None:
        self._broker = broker
        self._run_id = run_id
        self._segment = segment
        self._after = after
        self._resume = resume
        self._expired = expired

    def detach(self) -> None:
        """Nothing to release: the connection goes back to the pool when iteration stops."""

    async def __aiter__(self) -> AsyncGenerator[bytes, None]:
        broker, client = self._broker, self._broker._client
        run_key = broker._run_key(self._run_id)
        try:
            if self._expired:
                yield EXPIRED_FRAME
                yield DONE_FRAME
                return
            segment = self._segment
            if segment is None:  # a late reader: the run's current (or last) segment
                current: Any = await client.hget(run_key, "seg")
                if current is None:
                    yield DONE_FRAME
                    return
                segment = current.decode()
            stream = broker._stream_base(self._run_id) + segment
            if self._resume:
                tail: Any = await client.xrevrange(stream, count=1)
                tail_n = int(tail[0][0].rpartition(b"-")[2]) if tail else -1
                if tail_n < self._after:  # gone (TTL, restart) or not an id of this segment
                    yield EXPIRED_FRAME
                    yield DONE_FRAME
                    return
                if tail_n == self._after and tail[0][1][b"e"] == b"1":
                    yield DONE_FRAME  # resumed after the segment's last event
                    return
            last = self._after
            keepalive_s = broker._keepalive_s
            # each empty read checks the segment is alive; a keep-alive once silence reaches
            # keepalive_s
            wait_s = min(keepalive_s or broker._idle_check_s, broker._idle_check_s)
            block_ms, silent_s = int(1000 * wait_s), 0.0
            retried = False
            while True:
                try:
                    reply: Any = await client.xread(
                        {stream: f"0-{last}"}, count=256, block=block_ms
                    )
                except ConnectionError:
                    # A pooled connection from before a Redis restart fails once; a Redis that is
                    # down fails again. Go on only if the segment survived (or is just opening).
                    if retried:
                        raise
                    retried = True
                    await client.ping()
                    fresh = last == 0 and self._segment is not None
                    if not fresh and not await self._alive(run_key, stream, segment):
                        raise
                    continue
                retried = False
                if not reply:
                    silent_s += wait_s
                    if keepalive_s is not None and silent_s >= keepalive_s - 1e-6:
                        silent_s = 0.0
                        yield keepalive_frame()
                    if not await self._alive(run_key, stream, segment):
                        yield EXPIRED_FRAME
                        yield DONE_FRAME
                        return
                    continue
                silent_s = 0.0
                for entry_id, fields in reply[0][1]:
                    n = int(entry_id.rpartition(b"-")[2])
                    if n != last + 1:  # what came next was trimmed away
                        yield SLOW_CONSUMER_FRAME
                        yield DONE_FRAME
                        return
                    last = n
                    frame = fields[b"f"]
                    if frame:
                        yield frame_id(segment, n) + frame
                    if fields[b"e"] == b"1":
                        yield DONE_FRAME
                        return
        except (RedisError, OSError) as exc:
            log.warning("stream of %s lost Redis: %s", self._run_id, exc)
            yield LOST_FRAME
            yield DONE_FRAME

    async def _alive(self, run_key: str, stream: str, segment: str) -> bool:
        """The segment is still the run's, or its stream is still there to be read."""
        client = self._broker._client
        values: Any = await client.hmget(run_key, ["seg", "open"])
        current, is_open = values
        if current is not None and current.decode() == segment and is_open == b"1":
            return True
        return bool(await client.exists(stream))
