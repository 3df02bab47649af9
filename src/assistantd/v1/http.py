"""Small helpers of the v1 routes: JSON responses, run reads with their v1 `file_ids`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncConnection
from sse_starlette import EventSourceResponse
from starlette.responses import Response

from assistantd.assistants import store as assistants_store
from assistantd.db.documents import RawPage
from assistantd.events.broker import Subscription
from assistantd.runs.service import RunChange
from assistantd.v1 import shapes


def json_response(obj: Any, *, poll: Request | None = None) -> Response:
    headers = None
    if poll is not None:
        headers = {"openai-poll-after-ms": str(poll.app.state.settings.poll_after_ms)}
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


async def v1_frames(subscription: Subscription, file_ids: list[str]) -> AsyncIterator[bytes]:
    try:
        async for frame in subscription:
            yield shapes.frame(frame, file_ids)
    finally:
        subscription.detach()  # the client went away: the run goes on


async def start(
    request: Request, change: RunChange, stream: bool | None, file_ids: list[str]
) -> Response:
    """Publish a run change and schedule the run (as runs.router does), answering in v1."""
    state = request.app.state
    run_id = change.run.id
    subscription = None
    if stream:
        state.broker.open(run_id)
        subscription = state.broker.subscribe(run_id)
    for event in change.events:
        state.broker.publish(run_id, event)
    if change.schedule:
        if stream:  # these events come first, whichever process publishes the next ones
            await state.broker.flush()
        state.scheduler.submit(run_id)
    if subscription is None:
        return json_response(shapes.run(change.run, file_ids), poll=request)
    return EventSourceResponse(
        v1_frames(subscription, file_ids), headers={"Cache-Control": "no-cache"}
    )
