"""HTTP routes for /conversations and their items."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from assistantd.auth import Project
from assistantd.body import json_body
from assistantd.conversations import service
from assistantd.conversations.schemas import (
    CreateConversationRequest,
    CreateItemsRequest,
    UpdateConversationRequest,
)
from assistantd.db.deps import ReadConn, TransactionRoute, WriteConn
from assistantd.db.documents import RawPage
from assistantd.items import include as shown
from assistantd.items.include import Include
from assistantd.pagination import PageParams, page_params
from assistantd.responses import ObjectResponse

router = APIRouter(prefix="/conversations", tags=["conversations"], route_class=TransactionRoute)


@router.post("")
async def create_conversation(
    body: Annotated[CreateConversationRequest, json_body(CreateConversationRequest)],
    project: Project,
    conn: WriteConn,
) -> ObjectResponse:
    return ObjectResponse(await service.create(conn, project, body))


@router.get("/{conversation_id}")
async def get_conversation(
    conversation_id: str, project: Project, conn: ReadConn
) -> ObjectResponse:
    return ObjectResponse(await service.get(conn, project, conversation_id))


@router.post("/{conversation_id}")
async def update_conversation(
    conversation_id: str,
    body: Annotated[UpdateConversationRequest, json_body(UpdateConversationRequest)],
    project: Project,
    conn: WriteConn,
) -> ObjectResponse:
    return ObjectResponse(await service.update(conn, project, conversation_id, body))


@router.delete("/{conversation_id}")
async def delete_conversation(
    conversation_id: str, project: Project, conn: WriteConn
) -> ObjectResponse:
    return ObjectResponse(await service.delete(conn, project, conversation_id))


@router.get("/{conversation_id}/items")
async def list_items(
    conversation_id: str,
    params: Annotated[PageParams, Depends(page_params)],
    project: Project,
    conn: ReadConn,
    include: Include,
) -> ObjectResponse:
    page = await service.items(conn, project, conversation_id, params)
    if isinstance(page, RawPage):
        return ObjectResponse(shown.raw_page(page, include))
    return ObjectResponse(page.model_copy(update={"data": shown.items(page.data, include)}))


@router.post("/{conversation_id}/items")
async def create_items(
    conversation_id: str,
    body: Annotated[CreateItemsRequest, json_body(CreateItemsRequest)],
    project: Project,
    conn: WriteConn,
    include: Include,
) -> ObjectResponse:
    page = await service.add_items(conn, project, conversation_id, body)
    return ObjectResponse(page.model_copy(update={"data": shown.items(page.data, include)}))


@router.get("/{conversation_id}/items/{item_id}")
async def get_item(
    conversation_id: str, item_id: str, project: Project, conn: ReadConn, include: Include
) -> ObjectResponse:
    item = await service.get_item(conn, project, conversation_id, item_id)
    return ObjectResponse(shown.item(item, include))


@router.delete("/{conversation_id}/items/{item_id}")
async def delete_item(
    conversation_id: str, item_id: str, project: Project, conn: WriteConn
) -> ObjectResponse:
    return ObjectResponse(await service.delete_item(conn, project, conversation_id, item_id))
