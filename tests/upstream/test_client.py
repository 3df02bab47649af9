"""UpstreamClient against the fake upstream over real HTTP: streaming, retries, error mapping."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import httpx
import pytest

from assistantd.upstream import ChatChunk, UpstreamClient, UpstreamError
from tests.fakes.upstream import Call, Fail, FakeUpstream, Turn
from tests.support.upstream import complete
from tests.upstream.conftest import settings_for

BODY: dict[str, Any] = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}


async def collect(client: UpstreamClient, body: dict[str, Any] = BODY) -> list[ChatChunk]:
    return [chunk async for chunk in client.stream_chat(body)]


def text_of(chunks: list[ChatChunk]) -> str:
    return "".join(
        choice["delta"].get("content") or "" for c in chunks for choice in c.get("choices", [])
    )


async def test_streams_text_and_usage(fake: FakeUpstream, client: UpstreamClient) -> None:
    fake.script(Turn(text="Hello there friend"))
    chunks = await collect(client, {**BODY, "tools": [{"type": "function"}], "max_tokens": 300})
    assert text_of(chunks) == "Hello there friend"
    usage = chunks[-1].get("usage")
    assert chunks[-1]["choices"] == [] and usage and usage["completion_tokens"] == 3
    sent = fake.requests[0]
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert sent["tools"] == [{"type": "function"}] and sent["max_tokens"] == 300
    assert fake.headers[0]["authorization"] == "Bearer sk-test"


async def test_streamed_calls_reuse_one_connection(
    fake: FakeUpstream, client: UpstreamClient
) -> None:
    """The body is read to its end after `[DONE]`, so the connection goes back to the pool: a
    new TCP (with a real model server, TLS) connection per model call cost CPU and TTFT."""
    for _ in range(3):
        fake.script(Turn(text="Hello there friend"))
        assert text_of(await collect(client)) == "Hello there friend"
    assert len(fake.peers) == 3 and len(set(fake.peers)) == 1


async def test_streams_parallel_tool_calls(fake: FakeUpstream, client: UpstreamClient) -> None:
    calls = [Call("a", '{"x": 1}'), Call("b", '{"y": 2}')]
    fake.script(Turn(tool_calls=calls, interleave=True))
    chunks = await collect(client)
    finishes = [ch.get("finish_reason") for c in chunks for ch in c.get("choices", [])]
    assert "tool_calls" in finishes
    indices = [
        tc["index"]
        for c in chunks
        for ch in c.get("choices", [])
        for tc in ch["delta"].get("tool_calls") or []
    ]
    assert indices[:4] == [0, 1, 0, 1]


async def test_retries_429_honouring_retry_after_ms(
    fake: FakeUpstream, client: UpstreamClient
) -> None:
    fake.script(Fail(429, "slow down", retry_after_ms="200"), Fail(503), Turn(text="ok"))
    started = time.monotonic()
    assert text_of(await collect(client)) == "ok"
    assert time.monotonic() - started >= 0.2
    assert len(fake.requests) == 3


async def test_gives_up_after_max_retries(fake: FakeUpstream, client: UpstreamClient) -> None:
    fake.script(Fail(429, "slow down"), Fail(429, "slow down"), Fail(429, "still slow"))
    with pytest.raises(UpstreamError) as caught:
        await collect(client)
    assert caught.value.code == "rate_limit_exceeded"
    assert "still slow" in caught.value.message
    assert len(fake.requests) == 3


async def test_500_maps_to_server_error(fake: FakeUpstream, client: UpstreamClient) -> None:
    fake.script(*[Fail(500, "kaboom")] * 3)
    with pytest.raises(UpstreamError) as caught:
        await collect(client)
    assert caught.value.code == "server_error" and "kaboom" in caught.value.message


@pytest.mark.parametrize(
    ("status", "message", "code"),
    [
        (404, "The model `nope` does not exist", "invalid_prompt"),
        (400, "This model's maximum context length is 8192 tokens", "invalid_prompt"),
        (401, "Incorrect API key provided", "server_error"),
    ],
)
async def test_4xx_is_not_retried_and_says_why(
    fake: FakeUpstream, client: UpstreamClient, status: int, message: str, code: str
) -> None:
    fake.script(Fail(status, message))
    with pytest.raises(UpstreamError) as caught:
        await collect(client)
    assert caught.value.code == code and message in caught.value.message
    assert f"HTTP {status}" in caught.value.message
    assert len(fake.requests) == 1


async def test_malformed_chunk_fails_after_first_chunk(
    fake: FakeUpstream, client: UpstreamClient
) -> None:
    fake.script(Turn(text="one two three", malformed_after=2))
    received: list[ChatChunk] = []
    with pytest.raises(UpstreamError, match="malformed"):
        async for chunk in client.stream_chat(BODY):
            received.append(chunk)
    assert text_of(received) == "one two"
    assert len(fake.requests) == 1  # never retried once text went out


async def test_cut_stream_is_a_server_error(fake: FakeUpstream, client: UpstreamClient) -> None:
    fake.script(Turn(text="one two three", cut_after=1))
    with pytest.raises(UpstreamError, match="prematurely") as caught:
        await collect(client)
    assert caught.value.code == "server_error"


async def test_missing_done_is_fine_after_finish_reason(
    fake: FakeUpstream, client: UpstreamClient
) -> None:
    fake.script(Turn(text="done soon", send_done=False))
    assert text_of(await collect(client)) == "done soon"


async def test_stall_hits_idle_timeout(fake: FakeUpstream) -> None:
    fake.script(Turn(text="a b c", stall_after=1, stall_s=5))
    upstream = UpstreamClient(settings_for(fake), idle_timeout_s=0.3, backoff_base_s=0.01)
    started = time.monotonic()
    with pytest.raises(UpstreamError, match="idle timeout"):
        await collect(upstream)
    assert time.monotonic() - started < 2
    await upstream.aclose()


async def test_connect_error_retries_then_fails() -> None:
    settings = settings_for(FakeUpstream(), upstream_base_url="http://127.0.0.1:9/v1")
    upstream = UpstreamClient(settings, backoff_base_s=0.01)
    with pytest.raises(UpstreamError, match="Could not reach") as caught:
        await collect(upstream)
    assert caught.value.code == "server_error"
    await upstream.aclose()


async def test_connect_error_then_success_via_transport() -> None:
    attempts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise httpx.ConnectError("refused", request=request)
        body = (
            b'data: {"choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":"stop"}]}\n\n'
        )
        return httpx.Response(200, stream=httpx.ByteStream(body + b"data: [DONE]\n\n"))

    settings = settings_for(FakeUpstream(), upstream_base_url="http://upstream.test/v1")
    upstream = UpstreamClient(settings, httpx.MockTransport(handler), backoff_base_s=0.01)
    assert text_of(await collect(upstream)) == "hi"
    assert attempts == 2
    await upstream.aclose()


async def test_in_band_error_chunk(fake: FakeUpstream) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, stream=httpx.ByteStream(b'data: {"error": {"message": "CUDA OOM"}}\n\n')
        )

    settings = settings_for(fake, upstream_base_url="http://upstream.test/v1")
    upstream = UpstreamClient(settings, httpx.MockTransport(handler))
    with pytest.raises(UpstreamError, match="CUDA OOM"):
        await collect(upstream)
    await upstream.aclose()


async def test_cancelling_the_consumer_aborts_the_request(
    fake: FakeUpstream, client: UpstreamClient
) -> None:
    fake.script(Turn(text=" ".join(["tok"] * 200), itl_s=0.05))
    first = asyncio.Event()

    async def consume() -> None:
        async with contextlib.aclosing(client.stream_chat(BODY)) as stream:
            async for _ in stream:
                first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), 2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The server sees the hang-up long before the 10 s the answer would take.
    for _ in range(100):
        if fake.aborted:
            break
        await asyncio.sleep(0.01)
    assert fake.aborted == 1


async def test_non_streaming_complete(fake: FakeUpstream, client: UpstreamClient) -> None:
    fake.script(Fail(500), Turn(text="whole answer"))
    data = await complete(client, BODY)
    assert data["choices"][0]["message"]["content"] == "whole answer"
    assert fake.requests[-1]["stream"] is False


async def test_models_endpoint(fake: FakeUpstream) -> None:
    async with httpx.AsyncClient() as http:
        response = await http.get(fake.base_url + "/models")
    assert response.json()["data"][0]["id"] == "gpt-4o"


async def test_408_is_retried(fake: FakeUpstream, client: UpstreamClient) -> None:
    fake.script(Fail(408, "timeout"), Turn(text="ok"))
    assert text_of(await collect(client)) == "ok"
