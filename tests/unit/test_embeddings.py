from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Sequence

import httpx
import pytest

from assistantd.file_search.embeddings import (
    EmbeddingError,
    LimitedEmbedder,
    LocalEmbedder,
    UpstreamEmbedder,
)
from tests.support.embedders import HashingEmbedder


def _client(handler: httpx.MockTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url="http://upstream/v1/", transport=handler)


def _ok(request: httpx.Request, dims: int = 3) -> httpx.Response:
    body = json.loads(request.content)
    data = [
        {"object": "embedding", "index": i, "embedding": [float(i + 1)] + [0.0] * (dims - 1)}
        for i in range(len(body["input"]))
    ][::-1]  # servers may answer out of order
    return httpx.Response(200, json={"object": "list", "data": data, "model": body["model"]})


async def test_upstream_batches_orders_and_normalises() -> None:
    requests: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(json.loads(request.content))
        return _ok(request)

    async with _client(httpx.MockTransport(handler)) as client:
        embedder = UpstreamEmbedder(
            client, model="text-embedding-3-large", dimensions=3, send_dimensions=True, batch_size=2
        )
        vectors = await embedder.embed(["a", "b", "c"])
    assert embedder.name == "upstream:text-embedding-3-large"
    assert vectors == [[1.0, 0.0, 0.0]] * 3
    assert [r["input"] for r in requests] == [["a", "b"], ["c"]]
    assert requests[0]["dimensions"] == 3


async def test_upstream_retries_429_and_5xx() -> None:
    statuses = iter([429, 503, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        status = next(statuses)
        return (
            _ok(request) if status == 200 else httpx.Response(status, headers={"retry-after": "0"})
        )

    async with _client(httpx.MockTransport(handler)) as client:
        embedder = UpstreamEmbedder(client, model="m", dimensions=3, backoff_seconds=0)
        assert len(await embedder.embed(["x"])) == 1


async def test_upstream_gives_up_after_retries() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(500)

    async with _client(httpx.MockTransport(handler)) as client:
        embedder = UpstreamEmbedder(
            client, model="m", dimensions=3, max_retries=2, backoff_seconds=0
        )
        with pytest.raises(EmbeddingError, match="500"):
            await embedder.embed(["x"])
    assert calls == 3


async def test_upstream_does_not_retry_client_errors_or_wrong_dimensions() -> None:
    async with _client(httpx.MockTransport(lambda r: httpx.Response(400, text="bad model"))) as c:
        with pytest.raises(EmbeddingError, match="400"):
            await UpstreamEmbedder(c, model="m", dimensions=3).embed(["x"])
    async with _client(httpx.MockTransport(lambda r: _ok(r, dims=4))) as c:
        with pytest.raises(EmbeddingError, match="3 dimensions"):
            await UpstreamEmbedder(c, model="m", dimensions=3).embed(["x"])


async def test_upstream_transport_errors_are_retried_then_fail() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    async with _client(httpx.MockTransport(handler)) as client:
        embedder = UpstreamEmbedder(
            client, model="m", dimensions=3, max_retries=1, backoff_seconds=0
        )
        with pytest.raises(EmbeddingError, match="refused"):
            await embedder.embed(["x"])


async def test_hashing_embedder_is_deterministic_unit_length() -> None:
    embedder = HashingEmbedder(32)
    a, b, empty = await embedder.embed(["apple pie", "apple pie", ""])
    assert a == b and len(a) == 32
    assert math.isclose(sum(x * x for x in a), 1.0) and math.isclose(sum(x * x for x in empty), 1.0)


async def test_local_embedder_is_multilingual() -> None:
    embedder = LocalEmbedder()
    docs = ["The capital of Japan is Tokyo.", "Tomatoes need regular watering."]
    query_en, query_ja, *vectors = await embedder.embed(
        ["Which city is Japan's capital?", "日本の首都はどこですか", *docs]
    )
    assert len(query_en) == embedder.dimensions == 512

    def best(query: list[float]) -> int:
        scores = [sum(q * d for q, d in zip(query, doc, strict=True)) for doc in vectors]
        return scores.index(max(scores))

    assert best(query_en) == 0 and best(query_ja) == 0
    assert await embedder.embed([]) == []


async def test_limited_embedder_caps_the_calls_under_way() -> None:
    under_way = peak = 0

    class Slow:
        name, dimensions = "slow", 2

        async def embed(self, texts: Sequence[str]) -> list[list[float]]:
            nonlocal under_way, peak
            under_way += 1
            peak = max(peak, under_way)
            await asyncio.sleep(0.01)
            under_way -= 1
            return [[1.0, 0.0] for _ in texts]

    limited = LimitedEmbedder(Slow(), 3)
    results = await asyncio.gather(*(limited.embed([f"t{i}"]) for i in range(10)))
    assert peak == 3
    assert results == [[[1.0, 0.0]]] * 10
    assert (limited.name, limited.dimensions) == ("slow", 2)
