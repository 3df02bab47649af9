"""HTTP routes for /assistants."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from assistantd.assistants import service
from assistantd.assistants.schemas import CreateAssistantRequest, ModifyAssistantRequest
from assistantd.auth import Project
from assistantd.body import json_body
from assistantd.db.deps import ReadConn, TransactionRoute, WriteConn
from assistantd.pagination import PageParams, page_params
from assistantd.responses import ObjectResponse

router = APIRouter(prefix="/assistants", tags=["assistants"], route_class=TransactionRoute)


@router.post("")
async def create_assistant(
    body: Annotated[CreateAssistantRequest, json_body(CreateAssistantRequest)],
    project: Project,
    conn: WriteConn,
) -> ObjectResponse:
    return ObjectResponse(await service.create(conn, project, body))


@router.get("")
async def list_assistants(
    params: Annotated[PageParams, Depends(page_params)], project: Project, conn: ReadConn
) -> ObjectResponse:
    return ObjectResponse(await service.page(conn, project, params))


@router.get("/{assistant_id}")
async def get_assistant(assistant_id: str, project: Project, conn: ReadConn) -> ObjectResponse:
    return ObjectResponse(await service.get(conn, project, assistant_id))


@router.post("/{assistant_id}")
async def modify_assistant(
    assistant_id: str,
    body: Annotated[ModifyAssistantRequest, json_body(ModifyAssistantRequest)],
    project: Project,
    conn: WriteConn,
) -> ObjectResponse:
    return ObjectResponse(await service.modify(conn, project, assistant_id, body))


@router.delete("/{assistant_id}")
async def delete_assistant(assistant_id: str, project: Project, conn: WriteConn) -> ObjectResponse:
    return ObjectResponse(await service.delete(conn, project, assistant_id))
