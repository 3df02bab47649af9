"""Cancel signals between processes: a cancel sent to any node reaches the one executing the run.

The seam (for the executor side, e.g. a leased-job worker):

    cancels = make_cancels(settings)          # LocalCancels, or RedisCancels with a Redis URL
    await cancels.start(on_cancel)            # on_cancel(run_id) runs on the event loop of every
                                              # process for every cancel sent by any process
    await cancels.send(run_id)                # from the API side, after `cancelling` is committed
    await cancels.aclose()

`on_cancel` must be quick and must not raise: it looks up whether this process executes the run
and, if so, cancels its task (`Scheduler.cancel_local`). Processes that do not run it ignore
the signal. `LocalCancels` calls the handler directly (one process, the default).
`RedisCancels` publishes on one pub/sub channel (`<prefix>cancels`, the payload is the run id);
every process listens on it with one connection. Delivery takes well under a second.

The signal is a wake-up, not the record: the run's `cancelling` status in the database is. A
cancel sent while Redis is unreachable (or while a listener reconnects) is lost as a signal, so
an executor should also notice `cancelling` when it next reads or writes the run (the
compare-and-set writes already refuse to overwrite it) or at its lease heartbeat. `send` never
raises and returns within `timeout_s`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # redis is imported only by a process that uses it (~7 MB)
    import redis.asyncio as aioredis

log = logging.getLogger(__name__)

CancelHandler = Callable[[str], object]


class CancelChannel(Protocol):
    distributed: bool
    """True when the signal crosses processes (then a process that does not run the run must not
    finish its cancel itself: another one may be executing it)."""

    async def start(self, handler: CancelHandler) -> None: ...

    async def send(self, run_id: str) -> None: ...

    async def aclose(self) -> None: ...


class LocalCancels:
    """One process: `send` calls the handler at once."""

    distributed = False

    def __init__(self) -> None:
        self._handler: CancelHandler | None = None

    async def start(self, handler: CancelHandler) -> None:
        self._handler = handler

    async def send(self, run_id: str) -> None:
        if self._handler is not None:
            self._handler(run_id)

    async def aclose(self) -> None:
        self._handler = None


class RedisCancels:
    """Redis pub/sub: one channel for all runs, one listening connection per process."""

    distributed = True

    def __init__(
        self, client: aioredis.Redis, prefix: str, *, timeout_s: float = 1.0, retry_s: float = 0.5
    ) -> None:
        self._client = client
        self.channel = f"{prefix}cancels"
        self._timeout_s = timeout_s
        self._retry_s = retry_s
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    async def start(self, handler: CancelHandler) -> None:
        self._task = asyncio.create_task(self._listen(handler), name="cancel-listener")
        with contextlib.suppress(TimeoutError):  # Redis down: listen as soon as it is back
            await asyncio.wait_for(self._subscribed.wait(), self._timeout_s)

    async def send(self, run_id: str) -> None:
        from redis.exceptions import RedisError

        try:
            await asyncio.wait_for(self._client.publish(self.channel, run_id), self._timeout_s)
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning(
                "cancel signal for %s not sent (%s); the database still says so", run_id, exc
            )

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _listen(self, handler: CancelHandler) -> None:
        from redis.exceptions import RedisError

        while True:
            try:
                async with self._client.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    self._subscribed.set()
                    async for message in pubsub.listen():
                        data = message.get("data")
                        if isinstance(data, bytes):
                            data = data.decode()
                        if isinstance(data, str):
                            try:
                                handler(data)
                            except Exception:
                                log.exception("cancel handler failed for %s", data)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                log.warning("cancel listener lost Redis (%s); reconnecting", exc)
            self._subscribed.clear()
            await asyncio.sleep(self._retry_s)
