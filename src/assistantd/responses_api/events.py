"""The event log of a response being generated, in this process: streams (the first one and
any resumed with `starting_after`) read it from any position and follow it until it closes.

Background responses keep their log for `RETAIN_S` after they end, so a client can still
resume; the log is in memory, for the process that generates the response. With the Redis
broker a background response's events are published there too, so that another node streams
and resumes them (durable.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson

RETAIN_S = 600.0


class EventLog:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.closed = False
        self._changed = asyncio.Event()

    def append(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def follow(self, after: int = -1) -> AsyncIterator[dict[str, Any]]:
        """The events whose `sequence_number` is above `after`, then new ones until closed."""
        async for batch in self.batches(after):
            for event in batch:
                yield event

    async def batches(self, after: int = -1) -> AsyncIterator[list[dict[str, Any]]]:
        """`follow`'s events, those there at once together: a stream writes them in one send
        (the same bytes; before the first text delta the generation emits three events at
        once, and a send per frame was a socket write and a pass through the middleware
        each)."""
        position = max(after + 1, 0)
        while True:
            changed = self._changed
            if position < len(self.events):
                batch = self.events[position:]
                position += len(batch)
                yield batch
                continue  # more may have come meanwhile
            if self.closed:
                return
            await changed.wait()


_logs: dict[str, EventLog] = {}


def open_log(response_id: str) -> EventLog:
    log = _logs[response_id] = EventLog()
    return log


def find(response_id: str) -> EventLog | None:
    return _logs.get(response_id)


def close(response_id: str, *, retain: bool) -> None:
    log = _logs.get(response_id)
    if log is None:
        return
    log.close()
    if retain:
        asyncio.get_running_loop().call_later(RETAIN_S, _logs.pop, response_id, None)
    else:
        _logs.pop(response_id, None)


def frame(event: dict[str, Any]) -> bytes:
    """One SSE frame: the event's `type` as its name, the event as its data."""
    name: str = event["type"]
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
