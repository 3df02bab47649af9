"""The one retry policy (upstream/retry.py): how long it waits, what it retries and re-raises."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from assistantd.file_search.embeddings import UpstreamEmbedder
from assistantd.upstream.retry import BACKOFF_MAX_S, backoff, retrying


class Flaky(Exception):
    pass


def test_backoff_doubles_with_jitter_up_to_the_cap_and_a_hint_wins() -> None:
    for attempt in range(8):
        ceiling = min(0.5 * 2**attempt, BACKOFF_MAX_S)
        waits = [backoff(attempt, 0.5) for _ in range(50)]
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits)
    assert backoff(10, 0.5) <= BACKOFF_MAX_S
    assert backoff(3, 0.5, hint=0.25) == 0.25
    assert backoff(0, 0.0) == 0.0


async def _run(retries: int, errors: list[BaseException]) -> tuple[int, list[tuple[str, bool]]]:
    """Tries until one does not raise (each raises the next of `errors`); (tries, failures)."""
    tries, heard = 0, []
    async for attempt in retrying(
        retries=retries,
        base_s=0.0,
        retryable=lambda e: isinstance(e, Flaky),
        on_failure=lambda e, again: heard.append((type(e).__name__, again)),
    ):
        with attempt:
            tries += 1
            if errors:
                raise errors.pop(0)
    return tries, heard


async def test_retries_what_it_may_then_succeeds() -> None:
    tries, heard = await _run(2, [Flaky(), Flaky()])
    assert tries == 3 and heard == [("Flaky", True), ("Flaky", True)]


async def test_the_last_failure_is_raised_as_it_is() -> None:
    last = Flaky("third")
    with pytest.raises(Flaky) as caught:
        await _run(2, [Flaky(), Flaky(), last, Flaky()])
    assert caught.value is last


async def test_other_errors_and_cancellation_are_not_retried() -> None:
    with pytest.raises(ValueError):
        await _run(5, [ValueError()])
    with pytest.raises(asyncio.CancelledError):
        await _run(5, [asyncio.CancelledError()])


async def test_the_servers_hint_sets_the_wait() -> None:
    waits: list[float] = []
    policy = retrying(retries=1, retryable=lambda e: True, hint=lambda e: 0.01)
    policy.sleep = lambda seconds: _record(waits, seconds)  # type: ignore[method-assign]
    async for attempt in policy:
        with attempt:
            if not waits:
                raise Flaky()
    assert waits == [0.01]


async def _record(waits: list[float], seconds: float) -> None:
    waits.append(seconds)


async def test_embeddings_follow_the_same_policy_as_chat() -> None:
    """408 and a retry-after-ms hint count for embeddings as they do for chat completions."""
    replies = [httpx.Response(408), httpx.Response(503, headers={"retry-after-ms": "5"})]

    def handler(request: httpx.Request) -> httpx.Response:
        if replies:
            return replies.pop(0)
        return httpx.Response(200, json={"data": [{"index": 0, "embedding": [1.0, 0.0]}]})

    transport = httpx.MockTransport(handler)
    async with httpx.AsyncClient(transport=transport, base_url="http://up/v1/") as client:
        embedder = UpstreamEmbedder(client, model="m", dimensions=2, backoff_seconds=0)
        assert await embedder.embed(["x"]) == [[1.0, 0.0]]
    assert not replies
