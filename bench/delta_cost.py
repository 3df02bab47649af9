"""CPU per streamed text delta in the executor's hot path, without network or database.

Upstream SSE bytes -> SSEDecoder -> orjson -> ChatAccumulator -> the text delta event ->
Broker.publish (encode once) -> one subscriber drains the frame. Prints µs per delta; the
target for the whole server is ≤ 40 µs per delta (issue 3), so this slice should be well below.

    PYTHONPATH=src python bench/delta_cost.py
"""

from __future__ import annotations

import asyncio
import time

import orjson

from assistantd.events import deltas
from assistantd.events.broker import LocalBroker
from assistantd.executor.accumulator import ChatAccumulator
from assistantd.upstream.sse import SSEDecoder

N = 50_000


def upstream_bytes(n: int) -> list[bytes]:
    chunk = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-4o",
        "choices": [{"index": 0, "delta": {"content": " token"}, "finish_reason": None}],
    }
    frame = b"data: " + orjson.dumps(chunk) + b"\n\n"
    return [frame] * n


async def main() -> None:
    broker = LocalBroker(keepalive_s=None, max_backlog=N + 10)
    broker.open("run_1")
    sub = broker.subscribe("run_1")
    received = 0

    async def drain() -> None:
        nonlocal received
        async for _ in sub:
            received += 1

    consumer = asyncio.create_task(drain())
    decoder, acc = SSEDecoder(), ChatAccumulator()
    pieces = upstream_bytes(N)
    started = time.process_time()
    for index, piece in enumerate(pieces):
        for data in decoder.feed(piece):
            update = acc.add(orjson.loads(data))
            broker.publish("run_1", deltas.text_delta("msg_1", update.text, first=index == 0))
        if index % 64 == 0:
            await asyncio.sleep(0)  # let the subscriber run, as the event loop would
    broker.close("run_1")
    await consumer
    elapsed = time.process_time() - started
    print(f"{N} deltas, {received} frames received: {elapsed / N * 1e6:.1f} µs CPU per delta")


if __name__ == "__main__":
    asyncio.run(main())
