"""HTTP routes for runs: /threads/runs and /threads/{thread_id}/runs[...]

Run-changing routes commit first, then publish the change's events and hand the run to the
scheduler; with `stream: true` the response subscribes to the run's events before that, so no
event is missed.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sse_starlette import EventSourceResponse
from starlette.responses import Response

from assistantd.auth import Project
from assistantd.body import json_body
from assistantd.db.deps import ReadConn, WriteConn
from assistantd.errors import InvalidRequestError
from assistantd.events.broker import parse_event_id
from assistantd.pagination import PageParams, page_params
from assistantd.responses import ObjectResponse, Serialisable
from assistantd.run_steps.include import Include
from assistantd.runs import service
from assistantd.runs.schemas import (
    CreateRunRequest,
    CreateThreadAndRunRequest,
    ModifyRunRequest,
    SubmitToolOutputsRequest,
)

router = APIRouter(tags=["runs"])


def _run_response(request: Request, obj: Serialisable) -> Response:
    poll_after = str(request.app.state.settings.poll_after_ms)
    return ObjectResponse(obj, headers={"openai-poll-after-ms": poll_after})


async def _start(request: Request, change: service.RunChange, stream: bool | None) -> Response:
    """Publish the change (to a fresh stream segment if streaming) and schedule the run."""
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
        return _run_response(request, change.run)
    return EventSourceResponse(subscription, headers={"Cache-Control": "no-cache"})


@router.post("/threads/runs")
async def create_thread_and_run(
    body: Annotated[CreateThreadAndRunRequest, json_body(CreateThreadAndRunRequest)],
    request: Request,
    project: Project,
) -> Response:
    state = request.app.state
    async with state.db.write() as conn:
        change = await service.create_thread_and_run(
            conn, project, body, expiry_s=state.settings.run_expiry_seconds
        )
    return await _start(request, change, body.stream)


@router.post("/threads/{thread_id}/runs")
async def create_run(
    thread_id: str,
    body: Annotated[CreateRunRequest, json_body(CreateRunRequest)],
    request: Request,
    project: Project,
    include: Include,
) -> Response:
    state = request.app.state
    async with state.db.write() as conn:
        change = await service.create(
            conn, project, thread_id, body, expiry_s=state.settings.run_expiry_seconds
        )
    if include:  # the streamed step events show what `include[]` asks for
        state.executor.includes[change.run.id] = include
    return await _start(request, change, body.stream)


@router.get("/threads/{thread_id}/runs")
async def list_runs(
    thread_id: str,
    params: Annotated[PageParams, Depends(page_params)],
    request: Request,
    project: Project,
    conn: ReadConn,
) -> Response:
    return _run_response(request, await service.page(conn, project, thread_id, params))


@router.get("/threads/{thread_id}/runs/{run_id}")
async def get_run(
    thread_id: str, run_id: str, request: Request, project: Project, conn: ReadConn
) -> Response:
    return _run_response(request, await service.get(conn, project, thread_id, run_id))


@router.get("/threads/{thread_id}/runs/{run_id}/events")
async def run_events(
    thread_id: str, run_id: str, request: Request, project: Project, after: str | None = None
) -> Response:
    """Resumable streams, an extension beyond OpenAI (docs/streaming.md): the run's current
    stream segment, or with `after` (or `Last-Event-ID`) what followed that event, then live."""
    subscription = await subscribe_events(request, project, thread_id, run_id, after)
    return EventSourceResponse(subscription, headers={"Cache-Control": "no-cache"})


async def subscribe_events(
    request: Request, project: str, thread_id: str, run_id: str, after: str | None
) -> Any:
    """A subscription to a run of `project` (404 for any other), from `after` on."""
    state = request.app.state
    async with state.db.read() as conn:  # not held while the stream lasts
        await service.get(conn, project, thread_id, run_id)
    after = after if after is not None else request.headers.get("last-event-id")
    if after is not None and parse_event_id(after) is None:
        raise InvalidRequestError(
            f"Invalid event id '{after[:64]}': use the `id` of an event of this run.",
            param="after",
        )
    return state.broker.subscribe(run_id, after=after)


@router.post("/threads/{thread_id}/runs/{run_id}")
async def modify_run(
    thread_id: str,
    run_id: str,
    body: Annotated[ModifyRunRequest, json_body(ModifyRunRequest)],
    request: Request,
    project: Project,
    conn: WriteConn,
) -> Response:
    return _run_response(request, await service.modify(conn, project, thread_id, run_id, body))


@router.post("/threads/{thread_id}/runs/{run_id}/cancel")
async def cancel_run(thread_id: str, run_id: str, request: Request, project: Project) -> Response:
    state = request.app.state
    async with state.db.write() as conn:
        change = await service.cancel(conn, project, thread_id, run_id)
    for event in change.events:
        state.broker.publish(run_id, event)
    if change.schedule:
        await state.broker.flush()  # `cancelling` comes before what the executor publishes
        await state.cancels.send(run_id)  # to the process that runs it, this one or another
    return _run_response(request, change.run)


@router.post("/threads/{thread_id}/runs/{run_id}/submit_tool_outputs")
async def submit_tool_outputs(
    thread_id: str,
    run_id: str,
    body: Annotated[SubmitToolOutputsRequest, json_body(SubmitToolOutputsRequest)],
    request: Request,
    project: Project,
) -> Response:
    async with request.app.state.db.write() as conn:
        change = await service.submit_tool_outputs(conn, project, thread_id, run_id, body)
    return await _start(request, change, body.stream)
