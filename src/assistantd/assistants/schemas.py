"""Assistant objects and requests, mirroring openai-python's `Assistant` and the v2 spec."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from assistantd.schemas import (
    Metadata,
    Omittable,
    ReasoningEffort,
    RequestSchema,
    ResponseFormat,
    Schema,
    Tool,
    ToolResources,
    ToolResourcesRequest,
)


class Assistant(Schema):
    id: str
    object: Literal["assistant"] = "assistant"
    created_at: int
    name: str | None = None
    description: str | None = None
    model: str
    instructions: str | None = None
    tools: list[Tool] = Field(default_factory=list)
    tool_resources: ToolResources | None = None
    metadata: dict[str, str] | None = Field(default_factory=dict)
    temperature: float | None = 1.0
    top_p: float | None = 1.0
    response_format: ResponseFormat | None = "auto"
    # Not in the spec's object, but stored and shown (null when unset) so clients can read
    # back what runs will use; the SDKs keep unknown fields.
    reasoning_effort: ReasoningEffort | None = None


class AssistantFields(RequestSchema):
    """Fields shared by create and modify; on modify each one given replaces the old value."""

    name: Annotated[str, Field(max_length=256)] | None = None
    description: Annotated[str, Field(max_length=512)] | None = None
    instructions: Annotated[str, Field(max_length=256_000)] | None = None
    reasoning_effort: ReasoningEffort | None = None
    tools: Omittable[Annotated[list[Tool], Field(max_length=128)]] = None
    tool_resources: ToolResourcesRequest | None = None
    metadata: Metadata = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    response_format: ResponseFormat | None = None


class CreateAssistantRequest(AssistantFields):
    model: Annotated[str, Field(min_length=1, max_length=256)]


class ModifyAssistantRequest(AssistantFields):
    model: Omittable[Annotated[str, Field(min_length=1, max_length=256)]] = None
