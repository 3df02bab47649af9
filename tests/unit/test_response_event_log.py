"""A response's event log: a stream reads it from any position, the events there at once in one
batch (one write), in order, each once, until the log closes."""

from __future__ import annotations

import asyncio

from assistantd.responses_api.events import EventLog


def _event(number: int) -> dict[str, object]:
    return {"type": "response.output_text.delta", "sequence_number": number}


async def test_batches_hold_what_is_there_at_once_in_order() -> None:
    log = EventLog()
    for number in range(3):
        log.append(_event(number))
    got: list[list[object]] = []

    async def read() -> None:
        async for batch in log.batches():
            got.append([event["sequence_number"] for event in batch])

    reader = asyncio.create_task(read())
    await asyncio.sleep(0)
    assert got == [[0, 1, 2]]
    log.append(_event(3))
    log.append(_event(4))
    await asyncio.sleep(0)
    assert got == [[0, 1, 2], [3, 4]]
    log.append(_event(5))
    log.close()
    await asyncio.wait_for(reader, 5)
    assert got == [[0, 1, 2], [3, 4], [5]]


async def test_batches_and_follow_start_after_a_sequence_number() -> None:
    log = EventLog()
    for number in range(4):
        log.append(_event(number))
    log.close()
    assert [batch async for batch in log.batches(1)] == [[_event(2), _event(3)]]
    assert [event async for event in log.follow(2)] == [_event(3)]
    assert [batch async for batch in log.batches(3)] == []
