"""The write-behind under load: a run's end lands while its message's timed flush commits.

A streamed message is written a moment after it changes (executor/writeback.py, 50 ms); a
status change writes what is pending in its own transaction. When both meet (the answer ends
about when the timed flush runs), the status change must see what the flush wrote, or it
inserts the message again: on PostgreSQL that was a duplicate key and a failed run. Answers
here end around the flush's delay, many at once, so the two meet often; no timing asserted.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.conftest import KEY_A
from tests.fakes.upstream import FakeUpstream, Turn
from tests.support.server import RunningServer

RUNS = 160
OVERALL_TIMEOUT_S = 240
TERMINAL = {"completed", "failed", "cancelled", "expired", "incomplete"}
HEADERS = {"Authorization": f"Bearer {KEY_A}", "OpenAI-Beta": "assistants=v2"}


async def _send(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    while True:  # refused for load: retried as the SDKs do
        try:
            response = await client.request(method, url, **kwargs)
        except httpx.TransportError:  # a kept-alive connection closed under a read
            if method != "GET":
                raise
            continue
        if response.status_code not in (429, 503):
            return response
        await asyncio.sleep(float(response.headers["retry-after"]))


async def _run(client: httpx.AsyncClient, assistant_id: str) -> dict[str, Any]:
    body = {
        "assistant_id": assistant_id,
        "thread": {"messages": [{"role": "user", "content": "hi"}]},
    }
    run = (await _send(client, "POST", "/threads/runs", json=body)).json()
    while run["status"] not in TERMINAL:
        await asyncio.sleep(0.2)
        got = await _send(client, "GET", f"/threads/{run['thread_id']}/runs/{run['id']}")
        run = got.json()
    return run


async def _load(server: RunningServer) -> None:
    # idle connections are dropped before the server's keep-alive timeout (5 s) can race a reuse
    limits = httpx.Limits(
        max_connections=RUNS * 2, max_keepalive_connections=RUNS, keepalive_expiry=2
    )
    async with httpx.AsyncClient(
        base_url=server.api, headers=HEADERS, limits=limits, timeout=OVERALL_TIMEOUT_S
    ) as client:
        made = await _send(client, "POST", "/assistants", json={"model": "gpt-4o"})
        runs = await asyncio.gather(*(_run(client, made.json()["id"]) for _ in range(RUNS)))
        failed = [run for run in runs if run["status"] != "completed"]
        assert not failed, [run["last_error"] for run in failed][:5]
        for run in runs[:20]:
            listed = await _send(client, "GET", f"/threads/{run['thread_id']}/messages")
            answers = [m for m in listed.json()["data"] if m["role"] == "assistant"]
            assert len(answers) == 1, answers
            assert answers[0]["status"] == "completed"
            assert answers[0]["content"][0]["text"]["value"] == " a b c d e f g h"


def test_run_ends_meeting_timed_flushes_all_complete(
    server: RunningServer, fake: FakeUpstream
) -> None:
    tokens = [f" {c}" for c in "abcdefgh"]
    # 8 pieces 2-10 ms apart: the answer ends 15-80 ms after the message is made, around the
    # write-behind's 50 ms
    fake.script(
        *[
            Turn(text="".join(tokens), tokens=tokens, itl_s=0.002 + 0.001 * (index % 9))
            for index in range(RUNS)
        ]
    )
    asyncio.run(asyncio.wait_for(_load(server), OVERALL_TIMEOUT_S))
