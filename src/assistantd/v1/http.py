"""Small helpers of the v1 routes: JSON responses, run reads with their v1 `file_ids`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import orjson
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.responses import Response

from assistantd.assistants import store as assistants_store
from assistantd.db.documents import RawPage
from assistantd.responses import EventStream
from assistantd.runs.service import RunChange
from assistantd.services import get_services
from assistantd.v1 import shapes


def json_response(obj: Any, *, poll: Request | None = None) -> Response:
    headers = None
    if poll is not None:
        headers = {"openai-poll-after-ms": str(get_services(poll).settings.poll_after_ms)}
    return Response(orjson.dumps(obj), media_type="application/json", headers=headers)


def raw_page(page: RawPage, shape: Any) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [shape(orjson.loads(body)) for body in page.bodies],
        "first_id": page.first_id,
        "last_id": page.last_id,
        "has_more": page.has_more,
    }


async def file_ids_of(conn: AsyncConnection, project: str, assistant_id: str) -> list[str]:
    """A v1 run's `file_ids`: its assistant's files."""
    return shapes.assistant_file_ids(await assistants_store.get(conn, project, assistant_id))


async def v1_frames(
    frames: AsyncGenerator[bytes, None], file_ids: list[str]
) -> AsyncIterator[bytes]:
    async with contextlib.aclosing(frames):  # the client went away: detach now
        async for frame in frames:
            yield shapes.frame(frame, file_ids)


def respond(request: Request, change: RunChange, file_ids: list[str]) -> Response:
    """A changed run in v1, or its stream when the request asked for one (runs.service
    declared what follows the commit: publish, schedule)."""
    if change.stream is None:
        return json_response(shapes.run(change.run, file_ids), poll=request)
    return EventStream(v1_frames(change.stream.frames(), file_ids))
