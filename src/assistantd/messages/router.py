"""HTTP routes for /threads/{thread_id}/messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from assistantd.auth import Project
from assistantd.body import json_body
from assistantd.db.deps import ReadConn, TransactionRoute, WriteConn
from assistantd.messages import service
from assistantd.messages.schemas import CreateMessageRequest, ModifyMessageRequest
from assistantd.pagination import PageParams, page_params
from assistantd.responses import ObjectResponse

router = APIRouter(
    prefix="/threads/{thread_id}/messages", tags=["messages"], route_class=TransactionRoute
)


@router.post("")
async def create_message(
    thread_id: str,
    body: Annotated[CreateMessageRequest, json_body(CreateMessageRequest)],
    project: Project,
    conn: WriteConn,
) -> ObjectResponse:
    return ObjectResponse(await service.create(conn, project, thread_id, body))


@router.get("")
async def list_messages(
    thread_id: str,
    params: Annotated[PageParams, Depends(page_params)],
    project: Project,
    conn: ReadConn,
    run_id: Annotated[str | None, Query()] = None,
) -> ObjectResponse:
    return ObjectResponse(await service.page(conn, project, thread_id, params, run_id or None))


@router.get("/{message_id}")
async def get_message(
    thread_id: str, message_id: str, project: Project, conn: ReadConn
) -> ObjectResponse:
    return ObjectResponse(await service.get(conn, project, thread_id, message_id))


@router.post("/{message_id}")
async def modify_message(
    thread_id: str,
    message_id: str,
    body: Annotated[ModifyMessageRequest, json_body(ModifyMessageRequest)],
    project: Project,
    conn: WriteConn,
) -> ObjectResponse:
    return ObjectResponse(await service.modify(conn, project, thread_id, message_id, body))


@router.delete("/{message_id}")
async def delete_message(
    thread_id: str, message_id: str, project: Project, conn: WriteConn
) -> ObjectResponse:
    return ObjectResponse(await service.delete(conn, project, thread_id, message_id))
