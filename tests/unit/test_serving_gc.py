"""The served process moves its start-up heap out of the garbage collector's sight."""

from __future__ import annotations

import asyncio
import gc
import weakref

import uvicorn

from assistantd.serving import DrainingServer
from tests.support.server import free_port


async def _hello(scope: object, receive: object, send: object) -> None:
    raise AssertionError("no request is made")


class _Node:
    me: _Node


def test_startup_collects_then_freezes_what_it_made() -> None:
    config = uvicorn.Config(_hello, host="127.0.0.1", port=free_port(), lifespan="off")
    server = DrainingServer(config, drain_window_s=1)
    gc.disable()  # no automatic collection between here and the server's start
    garbage = _Node()
    garbage.me = garbage  # a reference cycle: only a collection frees it
    cycle = weakref.ref(garbage)
    del garbage
    tracked = len(gc.get_objects())

    async def start_and_stop() -> tuple[int, bool]:
        serving = asyncio.create_task(server.serve())
        for _ in range(3000):  # at most 30 s
            if server.started:
                break
            await asyncio.sleep(0.01)
        frozen, collected = gc.get_freeze_count(), cycle() is None
        server.should_exit = True
        await serving
        return frozen, collected

    try:
        frozen, collected = asyncio.run(start_and_stop())
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
        gc.enable()
    assert frozen > tracked // 2  # the heap of this process is out of the collector's sight
    assert collected  # start-up's garbage was collected, not frozen for good
