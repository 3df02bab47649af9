"""Response objects and requests, mirroring openai-python's `Response` and
`ResponseCreateParams` (the parts this server implements)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer

from assistantd.file_search.filters import Filter
from assistantd.items.schemas import InputContent, InputItem, Item
from assistantd.schemas import Metadata, RequestSchema, Schema, Sparse

ResponseStatus = Literal["completed", "failed", "in_progress", "cancelled", "queued", "incomplete"]

# --- tools, tool choice, text format (shown on the response as requested) ---------------------


class FunctionToolParam(Sparse):
    type: Literal["function"]
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionTool(Schema):
    type: Literal["function"] = "function"
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = True


class FileSearchRanking(Sparse):
    ranker: Literal["auto", "default-2024-11-15", "default_2024_08_21"] | None = None
    score_threshold: Annotated[float, Field(ge=0, le=1)] | None = None


class FileSearchToolParam(Sparse):
    type: Literal["file_search"]
    # Required by OpenAI; may be left out here when the conversation is a thread with stores.
    vector_store_ids: Annotated[list[str], Field(max_length=16)] = Field(default_factory=list)
    max_num_results: Annotated[int, Field(ge=1, le=50)] | None = None
    ranking_options: FileSearchRanking | None = None
    filters: Filter | None = None


class AutoContainer(Sparse):
    type: Literal["auto"]
    file_ids: Annotated[list[str], Field(max_length=50)] | None = None
    memory_limit: Literal["1g"] | None = None  # the sandbox's limit is the operator's setting


class CodeInterpreterToolParam(Schema):
    type: Literal["code_interpreter"]
    container: str | AutoContainer


ResponseToolParam = Annotated[
    FunctionToolParam | FileSearchToolParam | CodeInterpreterToolParam,
    Field(discriminator="type"),
]
ResponseTool = FunctionTool | FileSearchToolParam | CodeInterpreterToolParam


class ToolChoiceFunction(Schema):
    type: Literal["function"]
    name: str


class ToolChoiceHosted(Schema):
    type: Literal["file_search", "code_interpreter"]


ToolChoice = (
    Literal["none", "auto", "required"]
    | Annotated[ToolChoiceFunction | ToolChoiceHosted, Field(discriminator="type")]
)


class FormatText(Schema):
    type: Literal["text"] = "text"


class FormatJsonObject(Schema):
    type: Literal["json_object"]


class FormatJsonSchema(Sparse):
    type: Literal["json_schema"]
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")]
    schema_: dict[str, Any] = Field(alias="schema")
    description: str | None = None
    strict: bool | None = None

    model_config = ConfigDict(extra="ignore", populate_by_name=True, serialize_by_alias=True)


TextFormat = Annotated[
    FormatText | FormatJsonObject | FormatJsonSchema, Field(discriminator="type")
]


class TextConfig(Sparse):
    format: TextFormat = Field(default_factory=FormatText)
    verbosity: Literal["low", "medium", "high"] | None = None


class ConversationRef(Schema):
    id: str


class Reasoning(Sparse):
    effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None


# --- requests --------------------------------------------------------------------------------


class StreamOptions(RequestSchema):
    include_obfuscation: bool | None = None


class PromptParam(RequestSchema):
    """`prompt`: here an assistant to take settings from (see responses_api.prompt)."""

    id: Annotated[str, Field(min_length=1)]
    version: str | None = None
    variables: dict[str, str | InputContent] | None = None


class CreateResponseRequest(RequestSchema):
    model: Annotated[str, Field(min_length=1)] | None = None  # may come from `prompt`
    prompt: PromptParam | None = None
    input: Annotated[str, Field(max_length=10_485_760)] | list[InputItem] | None = None
    instructions: str | None = None
    previous_response_id: str | None = None
    conversation: str | ConversationRef | None = None
    store: bool | None = True
    stream: bool | None = False
    stream_options: StreamOptions | None = None
    background: bool | None = False
    tools: Annotated[list[ResponseToolParam], Field(max_length=128)] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    max_output_tokens: Annotated[int, Field(ge=16)] | None = None
    max_tool_calls: Annotated[int, Field(ge=1)] | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    top_p: Annotated[float, Field(ge=0, le=1)] | None = None
    top_logprobs: Annotated[int, Field(ge=0, le=20)] | None = None
    text: TextConfig | None = None
    truncation: Literal["auto", "disabled"] | None = None
    include: list[str] | None = None
    metadata: Metadata = None
    reasoning: Reasoning | None = None
    user: str | None = None
    safety_identifier: Annotated[str, Field(max_length=64)] | None = None
    prompt_cache_key: str | None = None
    service_tier: Literal["auto", "default", "flex", "scale", "priority"] | None = None


class InputTokensRequest(RequestSchema):
    model: str | None = None
    input: Annotated[str, Field(max_length=10_485_760)] | list[InputItem] | None = None
    instructions: str | None = None
    previous_response_id: str | None = None
    conversation: str | ConversationRef | None = None
    tools: list[ResponseToolParam] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    text: TextConfig | None = None
    reasoning: Reasoning | None = None
    truncation: Literal["auto", "disabled"] | None = None


# --- objects ---------------------------------------------------------------------------------


class ResponseError(Schema):
    code: str
    message: str


class IncompleteDetails(Schema):
    reason: Literal["max_output_tokens", "content_filter"]


class InputTokensDetails(Schema):
    cached_tokens: int = 0
    cache_write_tokens: int = 0


class OutputTokensDetails(Schema):
    reasoning_tokens: int = 0


class ResponseUsage(Schema):
    input_tokens: int
    input_tokens_details: InputTokensDetails = Field(default_factory=InputTokensDetails)
    output_tokens: int
    output_tokens_details: OutputTokensDetails = Field(default_factory=OutputTokensDetails)
    total_tokens: int


class ResponsePrompt(Schema):
    id: str
    version: str | None = None
    variables: dict[str, str | InputContent] | None = None


class Response(Schema):
    id: str
    object: Literal["response"] = "response"
    created_at: int
    status: ResponseStatus
    background: bool = False
    completed_at: int | None = None
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    instructions: str | None = None
    max_output_tokens: int | None = None
    max_tool_calls: int | None = None
    model: str
    output: list[Item] = Field(default_factory=list)
    parallel_tool_calls: bool = True
    previous_response_id: str | None = None
    conversation: ConversationRef | None = None
    reasoning: Reasoning | None = None
    store: bool = True
    temperature: float | None = 1.0
    text: TextConfig = Field(default_factory=TextConfig)
    tool_choice: ToolChoice = "auto"
    tools: list[ResponseTool] = Field(default_factory=list)
    top_p: float | None = 1.0
    top_logprobs: int | None = None
    truncation: Literal["auto", "disabled"] = "disabled"
    usage: ResponseUsage | None = None  # absent until the model answered (never null)
    metadata: dict[str, str] = Field(default_factory=dict)
    prompt: ResponsePrompt | None = None

    @model_serializer(mode="wrap")
    def _drop_missing_usage(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dumped: dict[str, Any] = handler(self)
        if dumped.get("usage", 0) is None:
            del dumped["usage"]
        return dumped


class InputTokens(Schema):
    object: Literal["response.input_tokens"] = "response.input_tokens"
    input_tokens: int
