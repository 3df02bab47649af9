"""Load never deadlocks the server: hundreds of runs at once, streamed and polled, all reach a
terminal status and leave their threads free. Past its capacity the server may refuse a request
(429/503 with `Retry-After`, in OpenAI's error envelope) or queue the run, but never hang.

Bounded: a fixed number of runs and one generous overall timeout; no timing assertions.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import KEY_A
from tests.fakes.upstream import FakeUpstream, Turn
from tests.support.server import RunningServer

RUNS = 300
TOKENS = 150
OVERALL_TIMEOUT_S = 420
TERMINAL = {"completed", "failed", "cancelled", "expired", "incomplete"}
HEADERS = {"Authorization": f"Bearer {KEY_A}", "OpenAI-Beta": "assistants=v2"}


async def _send(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request, retried when the server refuses it for load (as the SDKs do), and a read
    retried when a kept-alive connection was closed under it."""
    while True:
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.TransportError:
            if method != "GET":
                raise
            continue
        if response.status_code not in (429, 503):
            return response
        assert "retry-after" in response.headers, response.headers
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}
        await asyncio.sleep(float(response.headers["retry-after"]))


async def _streamed(client: httpx.AsyncClient, body: dict[str, Any]) -> tuple[str, str]:
    while True:
        async with client.stream("POST", "/threads/runs", json={**body, "stream": True}) as got:
            if got.status_code in (429, 503):
                await got.aread()
                await asyncio.sleep(float(got.headers["retry-after"]))
                continue
            assert got.status_code == 200, await got.aread()
            run: dict[str, Any] = {}
            async for line in got.aiter_lines():
                if line.startswith("data: {"):
                    data = orjson.loads(line[6:])
                    if data.get("object") == "thread.run":
                        run = data
            assert run.get("status") in TERMINAL, run
            return run["thread_id"], run["id"]


async def _polled(client: httpx.AsyncClient, body: dict[str, Any]) -> tuple[str, str]:
    created = await _send(client, "POST", "/threads/runs", json=body)
    assert created.status_code == 200, created.text
    run = created.json()
    while run["status"] not in TERMINAL:
        await asyncio.sleep(0.5)
        got = await _send(client, "GET", f"/threads/{run['thread_id']}/runs/{run['id']}")
        assert got.status_code == 200, got.text
        run = got.json()
    return run["thread_id"], run["id"]


async def _load(server: RunningServer) -> None:
    # idle connections are dropped before the server's keep-alive timeout (5 s) can race a reuse
    limits = httpx.Limits(
        max_connections=RUNS * 2, max_keepalive_connections=RUNS, keepalive_expiry=2
    )
    timeout = httpx.Timeout(OVERALL_TIMEOUT_S)
    async with httpx.AsyncClient(
        base_url=server.api, headers=HEADERS, limits=limits, timeout=timeout
    ) as client:
        made = await _send(client, "POST", "/assistants", json={"model": "gpt-4o"})
        body = {
            "assistant_id": made.json()["id"],
            "thread": {"messages": [{"role": "user", "content": "count"}]},
        }
        runs = await asyncio.gather(
            *((_streamed if index % 2 else _polled)(client, body) for index in range(RUNS))
        )
        assert len({run_id for _, run_id in runs}) == RUNS
        for thread_id, run_id in runs:
            got = await _send(client, "GET", f"/threads/{thread_id}/runs/{run_id}")
            assert got.json()["status"] == "completed", got.json()
            # the thread is free: a message can be added
            added = await _send(
                client,
                "POST",
                f"/threads/{thread_id}/messages",
                json={"role": "user", "content": "free?"},
            )
            assert added.status_code == 200, added.text


@pytest.mark.timeout(OVERALL_TIMEOUT_S + 120)
def test_hundreds_of_concurrent_runs_all_finish(server: RunningServer, fake: FakeUpstream) -> None:
    words = [f" w{i}" for i in range(TOKENS)]
    fake.script(*[Turn(text="".join(words), tokens=words, itl_s=0.002) for _ in range(RUNS)])
    asyncio.run(asyncio.wait_for(_load(server), OVERALL_TIMEOUT_S))
