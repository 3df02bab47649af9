"""Rules for assistants: defaults, validation of referenced files, replace-on-modify."""

from __future__ import annotations

import time

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd import ids, tool_resources
from assistantd.assistants import store
from assistantd.assistants.schemas import (
    Assistant,
    CreateAssistantRequest,
    ModifyAssistantRequest,
)
from assistantd.db.documents import RawPage
from assistantd.errors import NotFoundError
from assistantd.pagination import PageParams
from assistantd.schemas import DeletedObject

# Fields copied as given from a request onto the object (tool_resources is resolved apart).
_PLAIN_FIELDS = (
    "name",
    "description",
    "instructions",
    "tools",
    "metadata",
    "temperature",
    "top_p",
    "response_format",
    "reasoning_effort",
    "model",
)


async def create(conn: AsyncConnection, project: str, request: CreateAssistantRequest) -> Assistant:
    assistant = Assistant(
        id=ids.new_id(ids.ASSISTANT),
        created_at=int(time.time()),
        model=request.model,
        name=request.name,
        description=request.description,
        instructions=request.instructions,
        tools=request.tools or [],
        tool_resources=await tool_resources.resolve(conn, project, request.tool_resources),
        metadata=request.metadata or {},
        temperature=1.0 if request.temperature is None else request.temperature,
        top_p=1.0 if request.top_p is None else request.top_p,
        response_format=request.response_format or "auto",
        reasoning_effort=request.reasoning_effort,
    )
    await store.insert(conn, project, assistant)
    return assistant


async def get(conn: AsyncConnection, project: str, assistant_id: str) -> Assistant:
    assistant = await store.get(conn, project, assistant_id)
    if assistant is None:
        raise NotFoundError.for_id("assistant", assistant_id)
    return assistant


async def modify(
    conn: AsyncConnection, project: str, assistant_id: str, request: ModifyAssistantRequest
) -> Assistant:
    assistant = await get(conn, project, assistant_id)
    given = request.model_fields_set
    changes = {name: getattr(request, name) for name in _PLAIN_FIELDS if name in given}
    if "model" in changes and changes["model"] is None:
        del changes["model"]
    changes["tools"] = changes.get("tools", assistant.tools) or []
    changes["metadata"] = changes.get("metadata", assistant.metadata) or {}
    if "tool_resources" in given:
        changes["tool_resources"] = await tool_resources.resolve(
            conn, project, request.tool_resources
        )
    updated = assistant.model_copy(update=changes)
    await store.update(conn, project, updated)
    return updated


async def delete(conn: AsyncConnection, project: str, assistant_id: str) -> DeletedObject:
    if not await store.delete(conn, project, assistant_id):
        raise NotFoundError.for_id("assistant", assistant_id)
    return DeletedObject(id=assistant_id, object="assistant.deleted")


async def page(conn: AsyncConnection, project: str, params: PageParams) -> RawPage:
    return await store.page(conn, project, params)
