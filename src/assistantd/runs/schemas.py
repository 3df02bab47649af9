"""Run objects and run requests, mirroring openai-python's `Run` and the v2 spec's RunObject.

Every key the spec requires is always serialised (explicit nulls); field order follows the spec.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from assistantd.messages.schemas import CreateMessageRequest
from assistantd.run_status import RunStatus as RunStatus  # the names, shared with the thread lock
from assistantd.schemas import (
    Metadata,
    Omittable,
    ReasoningEffort,
    RequestSchema,
    ResponseFormat,
    Schema,
    Sparse,
    Tool,
    ToolResourcesRequest,
    Usage,
)

RUN_EXPIRY_SECONDS = 600
"""A live run expires this long after it was created (the live API's `created_at + 600`)."""


class FunctionCall(Schema):
    name: str
    arguments: str


class RequiredActionFunctionToolCall(Schema):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class RequiredActionSubmitToolOutputs(Schema):
    tool_calls: list[RequiredActionFunctionToolCall]


class RequiredAction(Schema):
    type: Literal["submit_tool_outputs"] = "submit_tool_outputs"
    submit_tool_outputs: RequiredActionSubmitToolOutputs


class LastError(Schema):
    code: Literal["server_error", "rate_limit_exceeded", "invalid_prompt"]
    message: str


class IncompleteDetails(Schema):
    reason: Literal["max_completion_tokens", "max_prompt_tokens"]


class TruncationStrategy(Schema):
    type: Literal["auto", "last_messages"] = "auto"
    last_messages: Annotated[int, Field(ge=1)] | None = None


class AssistantToolChoiceFunction(Schema):
    name: str


class AssistantToolChoice(Sparse):
    """A named tool choice: `{"type": "function", "function": {"name": ...}}` or a server tool."""

    type: Literal["function", "code_interpreter", "file_search"]
    function: AssistantToolChoiceFunction | None = None


AssistantToolChoiceOption = Literal["none", "auto", "required"] | AssistantToolChoice


class Run(Schema):
    id: str
    object: Literal["thread.run"] = "thread.run"
    created_at: int
    thread_id: str
    assistant_id: str
    status: RunStatus = "queued"
    required_action: RequiredAction | None = None
    last_error: LastError | None = None
    expires_at: int | None = None
    started_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    completed_at: int | None = None
    incomplete_details: IncompleteDetails | None = None
    model: str
    instructions: str = ""
    tools: list[Tool] = Field(default_factory=list)
    metadata: dict[str, str] | None = Field(default_factory=dict)
    usage: Usage | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_prompt_tokens: int | None = None
    max_completion_tokens: int | None = None
    truncation_strategy: TruncationStrategy | None = Field(default_factory=TruncationStrategy)
    tool_choice: AssistantToolChoiceOption | None = "auto"
    parallel_tool_calls: bool = True
    response_format: ResponseFormat | None = "auto"
    # The effective effort (the run's, else the assistant's); shown like the assistant's.
    reasoning_effort: ReasoningEffort | None = None


# --- requests ------------------------------------------------------------------------------------

Temperature = Annotated[float, Field(ge=0, le=2)]
TopP = Annotated[float, Field(ge=0, le=1)]
TokenBudget = Annotated[int, Field(ge=256)]


class RunOptions(RequestSchema):
    """The run-time options shared by create-run and create-thread-and-run."""

    assistant_id: str
    model: str | None = None
    instructions: str | None = None
    tools: Annotated[list[Tool], Field(max_length=20)] | None = None
    metadata: Metadata = None
    temperature: Temperature | None = None
    top_p: TopP | None = None
    stream: bool | None = None
    max_prompt_tokens: TokenBudget | None = None
    max_completion_tokens: TokenBudget | None = None
    truncation_strategy: TruncationStrategy | None = None
    tool_choice: AssistantToolChoiceOption | None = None
    parallel_tool_calls: bool = True
    response_format: ResponseFormat | None = None


class CreateRunRequest(RunOptions):
    reasoning_effort: ReasoningEffort | None = None
    additional_instructions: str | None = None
    additional_messages: list[CreateMessageRequest] | None = None


class CreateThreadForRun(RequestSchema):
    """The `thread` of a create-thread-and-run body (a CreateThreadRequest)."""

    messages: Omittable[list[CreateMessageRequest]] = None
    tool_resources: ToolResourcesRequest | None = None
    metadata: Metadata = None


class CreateThreadAndRunRequest(RunOptions):
    thread: Omittable[CreateThreadForRun] = None
    tool_resources: ToolResourcesRequest | None = None


class ToolOutput(RequestSchema):
    tool_call_id: str | None = None
    output: str | None = None


class SubmitToolOutputsRequest(RequestSchema):
    tool_outputs: list[ToolOutput]
    stream: bool | None = None


class ModifyRunRequest(RequestSchema):
    metadata: Metadata = None
