"""v1 routes for runs and run steps (streaming too)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from assistantd.auth import Project
from assistantd.body import json_body
from assistantd.db.deps import ReadConn, TransactionRoute, WriteConn
from assistantd.pagination import PageParams, page_params
from assistantd.responses import EventStream
from assistantd.run_steps import service as steps
from assistantd.runs import service
from assistantd.runs.accepting import accepting_runs
from assistantd.runs.router import subscribe_events
from assistantd.runs.schemas import ModifyRunRequest, SubmitToolOutputsRequest
from assistantd.services import AppServices
from assistantd.v1 import requests, shapes
from assistantd.v1.http import file_ids_of, json_response, raw_page, respond, v1_frames
from assistantd.v1.requests import V1CreateRunRequest, V1CreateThreadAndRunRequest

router = APIRouter(route_class=TransactionRoute)
Page = Annotated[PageParams, Depends(page_params)]


@router.post("/threads/runs", dependencies=[Depends(accepting_runs)])
async def create_thread_and_run(
    body: Annotated[V1CreateThreadAndRunRequest, json_body(V1CreateThreadAndRunRequest)],
    request: Request,
    project: Project,
    services: AppServices,
    conn: WriteConn,
) -> Response:
    change = await service.create_thread_and_run(
        conn,
        project,
        requests.create_thread_and_run(body),
        expiry_s=services.settings.run_expiry_seconds,
    )
    return respond(request, change, await file_ids_of(conn, project, change.run.assistant_id))


@router.post("/threads/{thread_id}/runs", dependencies=[Depends(accepting_runs)])
async def create_run(
    thread_id: str,
    body: Annotated[V1CreateRunRequest, json_body(V1CreateRunRequest)],
    request: Request,
    project: Project,
    services: AppServices,
    conn: WriteConn,
) -> Response:
    change = await service.create(
        conn,
        project,
        thread_id,
        requests.create_run(body),
        expiry_s=services.settings.run_expiry_seconds,
    )
    return respond(request, change, await file_ids_of(conn, project, change.run.assistant_id))


@router.get("/threads/{thread_id}/runs")
async def list_runs(
    thread_id: str, params: Page, request: Request, project: Project, conn: ReadConn
) -> Response:
    page = await service.page(conn, project, thread_id, params)
    cache: dict[str, list[str]] = {}
    shown = raw_page(page, lambda raw: raw)
    for index, raw in enumerate(shown["data"]):
        assistant_id = raw["assistant_id"]
        if assistant_id not in cache:
            cache[assistant_id] = await file_ids_of(conn, project, assistant_id)
        shown["data"][index] = shapes.run(raw, cache[assistant_id])
    return json_response(shown, poll=request)


@router.get("/threads/{thread_id}/runs/{run_id}")
async def get_run(
    thread_id: str, run_id: str, request: Request, project: Project, conn: ReadConn
) -> Response:
    run = await service.get(conn, project, thread_id, run_id)
    file_ids = await file_ids_of(conn, project, run.assistant_id)
    return json_response(shapes.run(run, file_ids), poll=request)


@router.get("/threads/{thread_id}/runs/{run_id}/events")
async def run_events(
    thread_id: str,
    run_id: str,
    request: Request,
    project: Project,
    services: AppServices,
    after: str | None = None,
) -> Response:
    """Resumable streams (docs/streaming.md), in v1's terms."""
    stream = await subscribe_events(request, project, thread_id, run_id, after)
    async with services.db.read() as conn:
        run = await service.get(conn, project, thread_id, run_id)
        file_ids = await file_ids_of(conn, project, run.assistant_id)
    return EventStream(v1_frames(stream.frames(), file_ids))


@router.post("/threads/{thread_id}/runs/{run_id}")
async def modify_run(
    thread_id: str,
    run_id: str,
    body: Annotated[ModifyRunRequest, json_body(ModifyRunRequest)],
    request: Request,
    project: Project,
    conn: WriteConn,
) -> Response:
    run = await service.modify(conn, project, thread_id, run_id, body)
    file_ids = await file_ids_of(conn, project, run.assistant_id)
    return json_response(shapes.run(run, file_ids), poll=request)


@router.post("/threads/{thread_id}/runs/{run_id}/cancel")
async def cancel_run(
    thread_id: str, run_id: str, request: Request, project: Project, conn: WriteConn
) -> Response:
    change = await service.cancel(conn, project, thread_id, run_id)
    file_ids = await file_ids_of(conn, project, change.run.assistant_id)
    return json_response(shapes.run(change.run, file_ids), poll=request)


@router.post(
    "/threads/{thread_id}/runs/{run_id}/submit_tool_outputs",
    dependencies=[Depends(accepting_runs)],
)
async def submit_tool_outputs(
    thread_id: str,
    run_id: str,
    body: Annotated[SubmitToolOutputsRequest, json_body(SubmitToolOutputsRequest)],
    request: Request,
    project: Project,
    conn: WriteConn,
) -> Response:
    change = await service.submit_tool_outputs(conn, project, thread_id, run_id, body)
    return respond(request, change, await file_ids_of(conn, project, change.run.assistant_id))


@router.get("/threads/{thread_id}/runs/{run_id}/steps")
async def list_run_steps(
    thread_id: str, run_id: str, params: Page, project: Project, conn: ReadConn
) -> Response:
    page = await steps.page(conn, project, thread_id, run_id, params)
    return json_response(
        {
            "object": "list",
            "data": [shapes.step(step) for step in page.data],
            "first_id": page.first_id,
            "last_id": page.last_id,
            "has_more": page.has_more,
        }
    )


@router.get("/threads/{thread_id}/runs/{run_id}/steps/{step_id}")
async def get_run_step(
    thread_id: str, run_id: str, step_id: str, project: Project, conn: ReadConn
) -> Response:
    return json_response(shapes.step(await steps.get(conn, project, thread_id, run_id, step_id)))
