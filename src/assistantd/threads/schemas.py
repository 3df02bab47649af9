"""Thread objects and requests, mirroring openai-python's `Thread`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from assistantd.messages.schemas import CreateMessageRequest
from assistantd.schemas import (
    Metadata,
    Omittable,
    RequestSchema,
    Schema,
    ToolResources,
    ToolResourcesRequest,
)


class Thread(Schema):
    id: str
    object: Literal["thread"] = "thread"
    created_at: int
    tool_resources: ToolResources | None = Field(default_factory=ToolResources)
    metadata: dict[str, str] | None = Field(default_factory=dict)


class CreateThreadRequest(RequestSchema):
    messages: Omittable[Annotated[list[CreateMessageRequest], Field(max_length=32)]] = None
    tool_resources: ToolResourcesRequest | None = None
    metadata: Metadata = None


class ModifyThreadRequest(RequestSchema):
    tool_resources: ToolResourcesRequest | None = None
    metadata: Metadata = None
