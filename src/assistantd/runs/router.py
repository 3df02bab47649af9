"""HTTP routes for runs: /threads/runs and /threads/{thread_id}/runs[...]

Each route is one service call in one transaction. Run-changing services declare what follows
the commit (publish the change's events, schedule the run, signal a cancel); with `stream: true`
the response is the run's stream, subscribed before any of those events is published.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from assistantd.auth import Project
from assistantd.body import json_body
from assistantd.db.deps import ReadConn, TransactionRoute, WriteConn
from assistantd.effects import Stream
from assistantd.errors import InvalidRequestError
from assistantd.events.broker import parse_event_id
from assistantd.pagination import PageParams, page_params
from assistantd.responses import EventStream, ObjectResponse, Serialisable
from assistantd.run_steps.include import Include
from assistantd.runs import service
from assistantd.runs.accepting import accepting_runs
from assistantd.runs.schemas import (
    CreateRunRequest,
    CreateThreadAndRunRequest,
    ModifyRunRequest,
    SubmitToolOutputsRequest,
)
from assistantd.services import AppServices, Services, get_services

router = APIRouter(tags=["runs"], route_class=TransactionRoute)


def _run_response(services: Services, obj: Serialisable) -> Response:
    poll_after = str(services.settings.poll_after_ms)
    return ObjectResponse(obj, headers={"openai-poll-after-ms": poll_after})


def _respond(services: Services, change: service.RunChange) -> Response:
    """The run, or its stream when the request asked for one."""
    if change.stream is None:
        return _run_response(services, change.run)
    return EventStream(change.stream.frames())


@router.post("/threads/runs", dependencies=[Depends(accepting_runs)])
async def create_thread_and_run(
    body: Annotated[CreateThreadAndRunRequest, json_body(CreateThreadAndRunRequest)],
    project: Project,
    services: AppServices,
    conn: WriteConn,
) -> Response:
    expiry_s = services.settings.run_expiry_seconds
    change = await service.create_thread_and_run(conn, project, body, expiry_s=expiry_s)
    return _respond(services, change)


@router.post("/threads/{thread_id}/runs", dependencies=[Depends(accepting_runs)])
async def create_run(
    thread_id: str,
    body: Annotated[CreateRunRequest, json_body(CreateRunRequest)],
    project: Project,
    include: Include,
    services: AppServices,
    conn: WriteConn,
) -> Response:
    expiry_s = services.settings.run_expiry_seconds
    change = await service.create(
        conn, project, thread_id, body, expiry_s=expiry_s, include=include
    )
    return _respond(services, change)


@router.get("/threads/{thread_id}/runs")
async def list_runs(
    thread_id: str,
    params: Annotated[PageParams, Depends(page_params)],
    project: Project,
    services: AppServices,
    conn: ReadConn,
) -> Response:
    return _run_response(services, await service.page(conn, project, thread_id, params))


@router.get("/threads/{thread_id}/runs/{run_id}")
async def get_run(
    thread_id: str, run_id: str, project: Project, services: AppServices, conn: ReadConn
) -> Response:
    return _run_response(services, await service.get(conn, project, thread_id, run_id))


@router.get("/threads/{thread_id}/runs/{run_id}/events")
async def run_events(
    thread_id: str, run_id: str, request: Request, project: Project, after: str | None = None
) -> Response:
    """Resumable streams, an extension beyond OpenAI (docs/streaming.md): the run's current
    stream segment, or with `after` (or `Last-Event-ID`) what followed that event, then live."""
    stream = await subscribe_events(request, project, thread_id, run_id, after)
    return EventStream(stream.frames())


async def subscribe_events(
    request: Request, project: str, thread_id: str, run_id: str, after: str | None
) -> Stream:
    """The stream of a run of `project` (404 for any other), from `after` on."""
    state = get_services(request)
    async with state.db.read() as conn:  # not held while the stream lasts
        await service.get(conn, project, thread_id, run_id)
    after = after if after is not None else request.headers.get("last-event-id")
    if after is not None and parse_event_id(after) is None:
        raise InvalidRequestError(
            f"Invalid event id '{after[:64]}': use the `id` of an event of this run.",
            param="after",
        )
    return Stream(state.broker.subscribe(run_id, after=after))


@router.post("/threads/{thread_id}/runs/{run_id}")
async def modify_run(
    thread_id: str,
    run_id: str,
    body: Annotated[ModifyRunRequest, json_body(ModifyRunRequest)],
    project: Project,
    services: AppServices,
    conn: WriteConn,
) -> Response:
    run = await service.modify(conn, project, thread_id, run_id, body)
    return _run_response(services, run)


@router.post("/threads/{thread_id}/runs/{run_id}/cancel")
async def cancel_run(
    thread_id: str, run_id: str, project: Project, services: AppServices, conn: WriteConn
) -> Response:
    change = await service.cancel(conn, project, thread_id, run_id)
    return _run_response(services, change.run)


@router.post(
    "/threads/{thread_id}/runs/{run_id}/submit_tool_outputs",
    dependencies=[Depends(accepting_runs)],
)
async def submit_tool_outputs(
    thread_id: str,
    run_id: str,
    body: Annotated[SubmitToolOutputsRequest, json_body(SubmitToolOutputsRequest)],
    project: Project,
    services: AppServices,
    conn: WriteConn,
) -> Response:
    change = await service.submit_tool_outputs(conn, project, thread_id, run_id, body)
    return _respond(services, change)
