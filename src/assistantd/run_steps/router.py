"""HTTP routes for /threads/{thread_id}/runs/{run_id}/steps."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from assistantd.auth import Project
from assistantd.db.deps import ReadConn, TransactionRoute
from assistantd.pagination import PageParams, page_params
from assistantd.responses import ObjectResponse
from assistantd.run_steps import service
from assistantd.run_steps.include import Include

router = APIRouter(
    prefix="/threads/{thread_id}/runs/{run_id}/steps",
    tags=["run steps"],
    route_class=TransactionRoute,
)


@router.get("")
async def list_run_steps(
    thread_id: str,
    run_id: str,
    params: Annotated[PageParams, Depends(page_params)],
    project: Project,
    conn: ReadConn,
    include: Include,
) -> ObjectResponse:
    return ObjectResponse(await service.page(conn, project, thread_id, run_id, params, include))


@router.get("/{step_id}")
async def get_run_step(
    thread_id: str,
    run_id: str,
    step_id: str,
    project: Project,
    conn: ReadConn,
    include: Include,
) -> ObjectResponse:
    return ObjectResponse(await service.get(conn, project, thread_id, run_id, step_id, include))
