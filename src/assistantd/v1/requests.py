"""v1 request bodies (the v1 spec, openai-openapi commit a20659d) and their v2 equivalents.

Validated strictly like every body (assistantd.body): a v2-only field (`tool_resources`,
`attachments`, `parallel_tool_calls`, `reasoning_effort`, `file_search` tools, ...) in a v1
request is a 400 `unknown_parameter` or `invalid_value` naming it, as a v1 field is in v2.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from assistantd.assistants.schemas import CreateAssistantRequest, ModifyAssistantRequest
from assistantd.messages.schemas import CreateMessageRequest
from assistantd.runs.schemas import (
    CreateRunRequest,
    CreateThreadAndRunRequest,
    Temperature,
    TokenBudget,
    TopP,
    TruncationStrategy,
)
from assistantd.schemas import Metadata, RequestSchema
from assistantd.threads.schemas import CreateThreadRequest


class V1FunctionDefinition(RequestSchema):
    name: Annotated[str, Field(max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")]
    description: str | None = None
    parameters: dict[str, Any] | None = None


class V1CodeInterpreterTool(RequestSchema):
    type: Literal["code_interpreter"]


class V1RetrievalTool(RequestSchema):
    type: Literal["retrieval"]


class V1FunctionTool(RequestSchema):
    type: Literal["function"]
    function: V1FunctionDefinition


V1Tool = Annotated[
    V1CodeInterpreterTool | V1RetrievalTool | V1FunctionTool, Field(discriminator="type")
]


class V1ResponseFormatType(RequestSchema):
    type: Literal["text", "json_object"]


V1ResponseFormat = Literal["none", "auto"] | V1ResponseFormatType


class V1ToolChoiceFunction(RequestSchema):
    name: str


class V1NamedToolChoice(RequestSchema):
    type: Literal["function", "code_interpreter", "retrieval"]
    function: V1ToolChoiceFunction | None = None


V1ToolChoice = Literal["none", "auto"] | V1NamedToolChoice
FileIds20 = Annotated[list[str], Field(max_length=20)]
FileIds10 = Annotated[list[str], Field(min_length=1, max_length=10)]


class V1AssistantFields(RequestSchema):
    name: Annotated[str, Field(max_length=256)] | None = None
    description: Annotated[str, Field(max_length=512)] | None = None
    instructions: Annotated[str, Field(max_length=256_000)] | None = None
    tools: Annotated[list[V1Tool], Field(max_length=128)] | None = None
    file_ids: FileIds20 | None = None
    metadata: Metadata = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    response_format: V1ResponseFormat | None = None


class V1CreateAssistantRequest(V1AssistantFields):
    model: Annotated[str, Field(min_length=1, max_length=256)]


class V1ModifyAssistantRequest(V1AssistantFields):
    model: Annotated[str, Field(min_length=1, max_length=256)] | None = None


class V1CreateAssistantFileRequest(RequestSchema):
    file_id: str


class V1CreateMessageRequest(RequestSchema):
    role: Literal["user", "assistant"]
    content: Annotated[str, Field(min_length=1, max_length=256_000)]
    file_ids: FileIds10 | None = None
    metadata: Metadata = None


class V1CreateThreadRequest(RequestSchema):
    messages: list[V1CreateMessageRequest] | None = None
    metadata: Metadata = None


class V1ModifyThreadRequest(RequestSchema):
    metadata: Metadata = None


class V1RunOptions(RequestSchema):
    assistant_id: str
    model: str | None = None
    instructions: str | None = None
    tools: Annotated[list[V1Tool], Field(max_length=20)] | None = None
    metadata: Metadata = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    stream: bool | None = None
    max_prompt_tokens: TokenBudget | None = None
    max_completion_tokens: TokenBudget | None = None
    truncation_strategy: TruncationStrategy | None = None
    tool_choice: V1ToolChoice | None = None
    response_format: V1ResponseFormat | None = None


class V1CreateRunRequest(V1RunOptions):
    additional_instructions: str | None = None
    additional_messages: list[V1CreateMessageRequest] | None = None


class V1CreateThreadAndRunRequest(V1RunOptions):
    thread: V1CreateThreadRequest | None = None


# --- to v2 ---------------------------------------------------------------------------------------


def _tools(tools: list[Any]) -> list[dict[str, Any]]:
    out = []
    for item in tools:
        raw = item.model_dump(exclude_none=True)
        out.append({"type": "file_search"} if raw["type"] == "retrieval" else raw)
    return out


def _common(body: RequestSchema) -> dict[str, Any]:
    """The fields given, renamed to v2: `retrieval` -> `file_search`, `"none"` -> `"auto"`."""
    given = body.model_fields_set
    data: dict[str, Any] = {}
    for name in given:
        value = getattr(body, name)
        if name == "tools" and value is not None:
            value = _tools(value)
        elif name == "response_format" and value is not None:
            value = "auto" if value in ("none", "auto") else value.model_dump()
        elif name == "tool_choice" and isinstance(value, V1NamedToolChoice):
            value = value.model_dump(exclude_none=True)
            if value["type"] == "retrieval":
                value["type"] = "file_search"
        elif name == "truncation_strategy" and value is not None:
            value = value.model_dump()
        data[name] = value
    return data


def message(body: V1CreateMessageRequest) -> CreateMessageRequest:
    attachments = [
        {"file_id": file_id, "tools": [{"type": "code_interpreter"}, {"type": "file_search"}]}
        for file_id in dict.fromkeys(body.file_ids or [])
    ]
    data: dict[str, Any] = {"role": body.role, "content": body.content}
    if attachments:
        data["attachments"] = attachments
    if "metadata" in body.model_fields_set:
        data["metadata"] = body.metadata
    return CreateMessageRequest.model_validate(data)


def create_assistant(body: V1CreateAssistantRequest) -> CreateAssistantRequest:
    data = _common(body)
    data.pop("file_ids", None)
    return CreateAssistantRequest.model_validate(data)


def modify_assistant(body: V1ModifyAssistantRequest) -> ModifyAssistantRequest:
    data = _common(body)
    data.pop("file_ids", None)
    return ModifyAssistantRequest.model_validate(data)


def create_thread(body: V1CreateThreadRequest) -> CreateThreadRequest:
    request = CreateThreadRequest(messages=[message(m) for m in body.messages or []] or None)
    if "metadata" in body.model_fields_set:
        request.metadata = body.metadata
    return request


def create_run(body: V1CreateRunRequest) -> CreateRunRequest:
    data = _common(body)
    if body.additional_messages is not None:
        data["additional_messages"] = [message(m).model_dump() for m in body.additional_messages]
    return CreateRunRequest.model_validate(data)


def create_thread_and_run(body: V1CreateThreadAndRunRequest) -> CreateThreadAndRunRequest:
    data = _common(body)
    if body.thread is not None:
        thread = create_thread(body.thread)
        data["thread"] = thread.model_dump(exclude_unset=True)
    return CreateThreadAndRunRequest.model_validate(data)
