"""The Redis broker and cancel channel against a real Redis: segments, ids, resume, ordering
across processes (two clients stand for two processes), bounded publishing, Redis faults."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from assistantd.events import models as ev
from assistantd.events.broker import EXPIRED_FRAME, SLOW_CONSUMER_FRAME, LocalBroker
from assistantd.events.cancels import RedisCancels
from assistantd.events.redis_broker import LOST_FRAME, RedisBroker, connect
from assistantd.events.sse import DONE_FRAME
from assistantd.runs import events as run_events
from tests.support.redis import drop_prefix, fresh_prefix, private_redis, shared_redis_url
from tests.unit.test_events import make_run, text_delta


def split(frame: bytes) -> tuple[str | None, str, Any]:
    """(id, event, data) of one frame."""
    lines = frame.decode().rstrip("\n").split("\n")
    frame_id = lines.pop(0)[4:] if lines[0].startswith("id: ") else None
    name, data = lines[0][7:], lines[1][6:]
    return frame_id, name, data if data == "[DONE]" else orjson.loads(data)


async def collect(sub: Any, limit_s: float = 10) -> list[bytes]:
    async with asyncio.timeout(limit_s):
        return [frame async for frame in sub]


@pytest.fixture
async def url_prefix() -> AsyncIterator[tuple[str, str]]:
    url, prefix = shared_redis_url(), fresh_prefix()
    yield url, prefix
    drop_prefix(url, prefix)


def make(url: str, prefix: str, **options: Any) -> RedisBroker:
    return RedisBroker(connect(url), prefix=prefix, **options)


async def started(*brokers: RedisBroker) -> None:
    for broker in brokers:
        await broker.start()


def script(broker: Any, run_id: str, texts: list[str]) -> None:
    broker.publish(run_id, run_events.ThreadRunCreated(data=make_run()))
    for text in texts:
        broker.publish(run_id, text_delta(text))
    broker.publish(run_id, run_events.ThreadRunCompleted(data=make_run("completed")))


@pytest.mark.parametrize("kind", ["local", "redis"])
async def test_ids_fan_out_and_resume(kind: str, url_prefix: tuple[str, str]) -> None:
    """Both brokers: every frame has an id; a resume after any id gets exactly what followed."""
    broker: Any = LocalBroker(keepalive_s=None) if kind == "local" else make(*url_prefix)
    await broker.start()
    try:
        broker.open("run_1")
        subs = [broker.subscribe("run_1") for _ in range(2)]
        tasks = [asyncio.create_task(collect(sub)) for sub in subs]
        script(broker, "run_1", ["a", "b", "c"])
        first, second = await asyncio.gather(*tasks)
        assert first == second and first[-1] == DONE_FRAME
        parsed = [split(frame) for frame in first[:-1]]
        names = [name for _, name, _ in parsed]
        assert names == ["thread.run.created"] + ["thread.message.delta"] * 3 + [
            "thread.run.completed"
        ]
        ids = [frame_id for frame_id, _, _ in parsed]
        assert len(set(ids)) == 5 and all(ids)
        for position, frame_id in enumerate(ids):  # the segment is closed, still readable
            rest = await collect(broker.subscribe("run_1", after=frame_id))
            assert rest == first[position + 1 :]
        late = await collect(broker.subscribe("run_1"))  # a late reader: the whole segment
        assert late == first
        gone = await collect(broker.subscribe("run_1", after="deadbeef.3"))
        assert gone == [EXPIRED_FRAME, DONE_FRAME]
    finally:
        await broker.aclose()


async def test_two_processes_one_order(url_prefix: tuple[str, str]) -> None:
    """The API process opens and publishes `created`, another process publishes the rest, a
    reader on a third sees one ordered segment; a resume elsewhere returns the missing tail."""
    api, worker, reader = (make(*url_prefix) for _ in range(3))
    await started(api, worker, reader)
    try:
        api.open("run_x")
        live = asyncio.create_task(collect(api.subscribe("run_x")))
        api.publish("run_x", run_events.ThreadRunCreated(data=make_run()))
        await api.flush()
        for i in range(50):
            worker.publish("run_x", text_delta(str(i)))
        await worker.flush()
        late = reader.subscribe("run_x")  # attaches while the run streams
        late_task = asyncio.create_task(collect(late))
        worker.publish("run_x", run_events.ThreadRunCompleted(data=make_run("completed")))
        frames = await live
        assert await late_task == frames
        texts = [split(f)[2]["delta"]["content"][0]["text"]["value"] for f in frames[1:51]]
        assert texts == [str(i) for i in range(50)]
        middle = split(frames[20])[0]
        assert await collect(reader.subscribe("run_x", after=middle)) == frames[21:]
    finally:
        for broker in (api, worker, reader):
            await broker.aclose()


async def test_reopen_closes_the_previous_segment(url_prefix: tuple[str, str]) -> None:
    broker = make(*url_prefix)
    await broker.start()
    try:
        broker.open("run_1")
        old = asyncio.create_task(collect(broker.subscribe("run_1")))
        broker.publish("run_1", text_delta("a"))
        broker.open("run_1")  # e.g. submit_tool_outputs while a reader of the old one lingers
        new = broker.subscribe("run_1")
        broker.publish("run_1", run_events.ThreadRunQueued(data=make_run()))
        broker.publish("run_1", ev.ErrorEvent(data=ev.ErrorData(message="x")))
        assert [split(f)[1] for f in await old] == ["thread.message.delta", "done"]
        assert [split(f)[1] for f in await collect(new)] == ["thread.run.queued", "error", "done"]
        broker.publish("run_1", text_delta("after the end"))  # no open segment: dropped
        await broker.flush()
        assert len(await collect(broker.subscribe("run_1"))) == 3
        assert await collect(broker.subscribe("run_unknown")) == [DONE_FRAME]
    finally:
        await broker.aclose()


async def test_a_stale_attempt_publishes_nothing_after_a_claim(
    url_prefix: tuple[str, str],
) -> None:
    """Two processes execute one run: the stale one (attempt 1) publishes, the run is claimed
    (attempt 2) and the new attempt publishes; what the stale one publishes after the claim,
    its close and its reopen included, never reaches the stream, and unfenced events (the
    API's) still do."""
    api, stale, new, reader = (make(*url_prefix) for _ in range(4))
    await started(api, stale, new, reader)
    try:
        api.open("run_s")
        api.publish("run_s", run_events.ThreadRunCreated(data=make_run()))
        await api.flush()
        live = asyncio.create_task(collect(reader.subscribe("run_s")))
        stale.fence("run_s", 1)
        stale.publish("run_s", text_delta("stale before"))
        await stale.flush()
        await new.supersede({"run_s": 2})  # the claim, before it commits
        new.fence("run_s", 2)
        stale.publish("run_s", text_delta("stale after"))
        stale.open("run_s")  # a stale reopen would hide the new attempt's segment
        stale.close("run_s")
        await stale.flush()
        new.publish("run_s", text_delta("new"))
        await new.flush()
        api.publish("run_s", run_events.ThreadRunCancelling(data=make_run("cancelling")))
        await api.flush()
        stale.publish("run_s", run_events.ThreadRunFailed(data=make_run("failed")))
        await stale.flush()
        new.publish("run_s", run_events.ThreadRunCancelled(data=make_run("cancelled")))
        frames = await live
        names = [split(frame)[1] for frame in frames]
        assert names == [
            "thread.run.created",
            "thread.message.delta",
            "thread.message.delta",
            "thread.run.cancelling",
            "thread.run.cancelled",
            "done",
        ]
        texts = [split(frame)[2]["delta"]["content"][0]["text"]["value"] for frame in frames[1:3]]
        assert texts == ["stale before", "new"]
        numbers = [int(str(split(frame)[0]).rpartition(".")[2]) for frame in frames[:-1]]
        assert numbers == [1, 2, 3, 4, 5]  # nothing refused took a number
    finally:
        for broker in (api, stale, new, reader):
            await broker.aclose()


async def test_the_new_attempts_first_event_fences_without_a_claim(
    url_prefix: tuple[str, str],
) -> None:
    """When the claim could not reach Redis, the new attempt's first event raises the attempt:
    the stale attempt's events after it are refused; a broker with no attempt for the run (an
    unfenced process) and one of a run never fenced are unaffected."""
    stale, new = make(*url_prefix), make(*url_prefix)
    await started(stale, new)
    try:
        stale.open("run_f")
        await stale.flush()
        stale.fence("run_f", 3)
        new.fence("run_f", 4)
        new.publish("run_f", text_delta("new"))
        await new.flush()
        stale.publish("run_f", text_delta("stale"))
        stale.unfence("run_f")
        stale.publish("run_f", text_delta("unfenced"))
        stale.publish("run_f", run_events.ThreadRunCompleted(data=make_run("completed")))
        frames = await collect(new.subscribe("run_f"))
        names = [split(frame)[1] for frame in frames]
        assert names == ["thread.message.delta"] * 2 + ["thread.run.completed", "done"]
        assert [split(f)[2]["delta"]["content"][0]["text"]["value"] for f in frames[:2]] == [
            "new",
            "unfenced",
        ]
    finally:
        await stale.aclose()
        await new.aclose()


async def test_a_reader_that_fell_behind_the_cap_is_told(url_prefix: tuple[str, str]) -> None:
    broker = make(*url_prefix, maxlen=10)
    await broker.start()
    try:
        broker.open("run_1")
        broker.publish("run_1", text_delta("first"))
        await broker.flush()
        frames: list[bytes] = []
        sub = broker.subscribe("run_1").__aiter__()
        frames.append(await sub.__anext__())  # read one, then stall while 500 more come
        for i in range(500):
            broker.publish("run_1", text_delta(str(i)))
        broker.publish("run_1", run_events.ThreadRunCompleted(data=make_run("completed")))
        await broker.flush()
        frames += [frame async for frame in sub]
        assert frames[-2:] == [SLOW_CONSUMER_FRAME, DONE_FRAME]
    finally:
        await broker.aclose()


async def test_publish_never_waits_for_a_dead_redis() -> None:
    """No Redis at all: publish returns at once, the buffer stays bounded, flush is bounded."""
    from tests.support.server import free_port

    broker = RedisBroker(
        connect(f"redis://127.0.0.1:{free_port()}/0"), max_buffer=1000, timeout_s=0.5
    )
    await broker.start()
    try:
        broker.open("run_1")
        for i in range(20_000):  # synchronous: nothing here waits for Redis (bench/ has costs)
            broker.publish("run_1", text_delta(str(i)))
        assert broker.buffered <= 1000 and broker.dropped >= 19_000
        async with asyncio.timeout(5):  # a hang guard: flush gives up after timeout_s
            await broker.flush()
        assert await collect(broker.subscribe("run_1")) == [LOST_FRAME, DONE_FRAME]
    finally:
        await broker.aclose()


async def test_redis_restart_mid_stream(tmp_path: Path) -> None:
    """Readers attached when Redis dies end with an error and `done` (no hang); publishing goes
    on without blocking; once Redis is back, new segments stream again."""
    with private_redis(tmp_path) as server:
        broker = make(server.url, "t:", timeout_s=0.5)
        await broker.start()
        try:
            broker.open("run_1")
            reader = asyncio.create_task(collect(broker.subscribe("run_1"), limit_s=5))
            broker.publish("run_1", text_delta("before"))
            await broker.flush()
            server.kill()
            frames = await reader
            assert frames[-2:] == [LOST_FRAME, DONE_FRAME]
            assert split(frames[0])[2]["delta"]["content"][0]["text"]["value"] == "before"
            for i in range(100):  # the run goes on while Redis is away
                broker.publish("run_1", text_delta(str(i)))
            await broker.flush()
            server.start()
            broker.open("run_2")
            again = asyncio.create_task(collect(broker.subscribe("run_2"), limit_s=5))
            script(broker, "run_2", ["x"])
            assert [split(f)[1] for f in await again][-2:] == ["thread.run.completed", "done"]
        finally:
            await broker.aclose()


async def test_events_lost_to_a_stalled_redis_end_the_segment(tmp_path: Path) -> None:
    """Redis stalls (DEBUG SLEEP) while a reader waits: the events whose flush timed out are
    given up, and once Redis answers the segment ends with an error, so the reader never waits
    for events that may never come."""
    with private_redis(tmp_path) as server:
        broker = make(server.url, "t:", timeout_s=0.3)
        await broker.start()
        try:
            broker.open("run_1")
            reader = asyncio.create_task(collect(broker.subscribe("run_1"), limit_s=10))
            broker.publish("run_1", text_delta("kept"))
            await broker.flush()
            stall = connect(server.url)
            sleeping = asyncio.create_task(stall.execute_command("DEBUG", "SLEEP", "1.5"))
            await asyncio.sleep(0.1)
            broker.publish("run_1", text_delta("maybe lost"))
            while not broker.dropped:  # its flush times out while Redis sleeps  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            await sleeping
            await stall.aclose()
            frames = await reader
            assert frames[-1] == DONE_FRAME
            assert frames[-2].startswith(b"id: ") and frames[-2].endswith(LOST_FRAME)
        finally:
            await broker.aclose()


async def test_cancel_reaches_another_process_within_a_second(
    url_prefix: tuple[str, str],
) -> None:
    url, prefix = url_prefix
    clients = connect(url), connect(url)
    sender, receiver = RedisCancels(clients[0], prefix), RedisCancels(clients[1], prefix)
    got: asyncio.Queue[str] = asyncio.Queue()
    await receiver.start(got.put_nowait)
    await sender.start(lambda run_id: None)
    try:
        await sender.send("run_abc")
        run_id = await asyncio.wait_for(got.get(), 1.0)  # the bound: within 1 s
        assert run_id == "run_abc"
    finally:
        await sender.aclose()
        await receiver.aclose()
        for client in clients:
            await client.aclose()


async def test_cancel_send_is_bounded_without_redis() -> None:
    from tests.support.server import free_port

    client = connect(f"redis://127.0.0.1:{free_port()}/0")
    cancels = RedisCancels(client, "x:", timeout_s=0.3)
    await cancels.start(lambda run_id: None)
    async with asyncio.timeout(5):  # bounded by timeout_s, logged, never raised
        await cancels.send("run_1")
    await cancels.aclose()
    await client.aclose()
