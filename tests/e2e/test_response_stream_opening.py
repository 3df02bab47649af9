"""A background response read from another node before its stream reached Redis (PostgreSQL and
Redis, in one process: two brokers stand for the two nodes).

The generating node's broker writes a stream's opening in the background (its flusher), and the
response is `in_progress` in the database before that: a reader on another node can find no
segment yet. `Durable.follow` then asks again while the response is not over, instead of
ending with an empty stream. Here the generating broker's flusher starts only once the reader
has found nothing (and asked again), so the window is there every time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from assistantd.db.engine import Database
from assistantd.db.migrate import upgrade_async
from assistantd.events.redis_broker import RedisBroker, RedisSubscription, connect
from assistantd.responses_api import store
from assistantd.responses_api.durable import Durable
from assistantd.responses_api.schemas import Response
from tests.conftest import _database_url
from tests.support.redis import drop_prefix, fresh_prefix, shared_redis_url


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    with ExitStack() as stack:
        yield _database_url("postgres", stack, tmp_path)


@pytest.fixture
def redis_prefix() -> Iterator[tuple[str, str]]:
    url, prefix = shared_redis_url(), fresh_prefix()
    yield url, prefix
    drop_prefix(url, prefix)


class ReadingBroker(RedisBroker):
    """The reading node's broker; says when a reader subscribed a second time (it found
    nothing the first time and asked again)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.subscribed = 0
        self.asked_again = asyncio.Event()

    def subscribe(self, run_id: str, after: str | None = None) -> RedisSubscription:
        self.subscribed += 1
        if self.subscribed == 2:
            self.asked_again.set()
        return super().subscribe(run_id, after)


def no_task(response_id: str) -> bool:
    return False  # (no generation runs in this process)


def event(kind: str, number: int, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "sequence_number": number, **fields}


async def collect(events: AsyncIterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [item async for item in events]


async def test_a_reader_that_comes_before_the_stream_waits_for_it(
    database: str, redis_prefix: tuple[str, str]
) -> None:
    await upgrade_async(database)
    db = Database(database)
    url, prefix = redis_prefix
    generating = RedisBroker(connect(url), prefix=prefix)  # its flusher starts later (below)
    reading = ReadingBroker(connect(url), prefix=prefix)
    await reading.start()

    def durable(broker: RedisBroker, node: str) -> Durable:
        return Durable(db, broker, node=node, ttl_s=10, heartbeat_s=0.5, cancel_local=no_task)

    try:
        response = Response(
            id="resp_opening", created_at=1, status="in_progress", background=True, model="m"
        )
        async with db.write() as conn:
            await store.insert(conn, "p", response, [])
        emit = durable(generating, "a").open_stream(response.id)
        assert emit is not None
        emit(event("response.created", 0))
        emit(event("response.in_progress", 1))  # all three wait in the generating buffer
        follow = asyncio.create_task(collect(durable(reading, "b").follow("p", response.id, -1)))
        asked = asyncio.create_task(reading.asked_again.wait())
        await asyncio.wait([follow, asked], return_when=asyncio.FIRST_COMPLETED)
        asked.cancel()
        assert not follow.done(), f"the reader gave up on an empty stream: {follow.result()}"
        await generating.start()  # the opening reaches Redis now, then what follows it
        emit(event("response.output_text.delta", 2, delta="hi"))
        emit(event("response.completed", 3))
        seen = await asyncio.wait_for(follow, 30)
        assert [(e["type"], e["sequence_number"]) for e in seen] == [
            ("response.created", 0),
            ("response.in_progress", 1),
            ("response.output_text.delta", 2),
            ("response.completed", 3),
        ]
    finally:
        await generating.aclose()
        await reading.aclose()
        await db.dispose()
