"""A non-streaming chat completion through `UpstreamClient`, for tests (the server itself only
streams): posted with `relay`, so it gets the client's retries."""

from __future__ import annotations

from typing import Any

import orjson

from assistantd.upstream import UpstreamClient


async def complete(client: UpstreamClient, body: dict[str, Any]) -> dict[str, Any]:
    """POST `/chat/completions` with `stream: false`; the decoded JSON body."""
    response = await client.relay("/chat/completions", orjson.dumps({**body, "stream": False}))
    try:
        data: dict[str, Any] = orjson.loads(await response.aread())
    finally:
        await response.aclose()
    return data
