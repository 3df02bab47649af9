"""Run step objects and run step deltas, mirroring openai-python's `RunStep` / `RunStepDelta`.

Objects serialise every required key (explicit nulls). Deltas are sparse: only what changed is
sent, so the event encoder dumps them with `exclude_none` (see `events.sse`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from assistantd.schemas import RankingOptions, Schema, Sparse, Usage

RunStepStatus = Literal["in_progress", "cancelled", "failed", "completed", "expired"]

# --- tool calls inside a completed/in-progress step ----------------------------------------------


class CodeInterpreterOutputLogs(Schema):
    type: Literal["logs"] = "logs"
    logs: str


class CodeInterpreterOutputImageImage(Schema):
    file_id: str


class CodeInterpreterOutputImage(Schema):
    type: Literal["image"] = "image"
    image: CodeInterpreterOutputImageImage


CodeInterpreterOutput = Annotated[
    CodeInterpreterOutputLogs | CodeInterpreterOutputImage, Field(discriminator="type")
]


class CodeInterpreter(Schema):
    input: str = ""
    outputs: list[CodeInterpreterOutput] = Field(default_factory=list)


class CodeInterpreterToolCall(Schema):
    id: str
    type: Literal["code_interpreter"] = "code_interpreter"
    code_interpreter: CodeInterpreter


class FileSearchResultContent(Sparse):
    type: Literal["text"] = "text"
    text: str | None = None


class FileSearchResult(Sparse):
    file_id: str
    file_name: str
    score: Annotated[float, Field(ge=0, le=1)]
    content: list[FileSearchResultContent] | None = None  # only when include[] asks for it


class FileSearch(Sparse):
    ranking_options: RankingOptions | None = None
    results: list[FileSearchResult] | None = None


class FileSearchToolCall(Schema):
    id: str
    type: Literal["file_search"] = "file_search"
    file_search: FileSearch = Field(default_factory=FileSearch)


class Function(Schema):
    name: str
    arguments: str = ""
    output: str | None = None


class FunctionToolCall(Schema):
    id: str
    type: Literal["function"] = "function"
    function: Function


ToolCall = Annotated[
    CodeInterpreterToolCall | FileSearchToolCall | FunctionToolCall, Field(discriminator="type")
]


class MessageCreation(Schema):
    message_id: str


class MessageCreationStepDetails(Schema):
    type: Literal["message_creation"] = "message_creation"
    message_creation: MessageCreation


class ToolCallsStepDetails(Schema):
    type: Literal["tool_calls"] = "tool_calls"
    tool_calls: list[ToolCall] = Field(default_factory=list)


StepDetails = Annotated[
    MessageCreationStepDetails | ToolCallsStepDetails, Field(discriminator="type")
]


class LastError(Schema):
    code: Literal["server_error", "rate_limit_exceeded"]
    message: str


class RunStep(Schema):
    id: str
    object: Literal["thread.run.step"] = "thread.run.step"
    created_at: int
    assistant_id: str
    thread_id: str
    run_id: str
    type: Literal["message_creation", "tool_calls"]
    status: RunStepStatus = "in_progress"
    step_details: StepDetails
    last_error: LastError | None = None
    expired_at: int | None = None
    cancelled_at: int | None = None
    failed_at: int | None = None
    completed_at: int | None = None
    metadata: dict[str, str] | None = Field(default_factory=dict)
    usage: Usage | None = None


# --- deltas (thread.run.step.delta) --------------------------------------------------------------
# Every list entry carries `index`; strings are increments (the SDK concatenates them).


class CodeInterpreterLogsDelta(Schema):
    index: int
    type: Literal["logs"] = "logs"
    logs: str | None = None


class CodeInterpreterImageDelta(Schema):
    index: int
    type: Literal["image"] = "image"
    image: CodeInterpreterOutputImageImage | None = None


CodeInterpreterOutputDelta = Annotated[
    CodeInterpreterLogsDelta | CodeInterpreterImageDelta, Field(discriminator="type")
]


class CodeInterpreterDelta(Schema):
    input: str | None = None
    outputs: list[CodeInterpreterOutputDelta] | None = None


class CodeInterpreterToolCallDelta(Schema):
    index: int
    type: Literal["code_interpreter"] = "code_interpreter"
    id: str | None = None
    code_interpreter: CodeInterpreterDelta | None = None


class FileSearchToolCallDelta(Schema):
    index: int
    type: Literal["file_search"] = "file_search"
    id: str | None = None
    file_search: dict[str, object] = Field(default_factory=dict)


class FunctionDelta(Schema):
    name: str | None = None
    arguments: str | None = None
    output: str | None = None


class FunctionToolCallDelta(Schema):
    index: int
    type: Literal["function"] = "function"
    id: str | None = None
    function: FunctionDelta | None = None


ToolCallDelta = Annotated[
    CodeInterpreterToolCallDelta | FileSearchToolCallDelta | FunctionToolCallDelta,
    Field(discriminator="type"),
]


class ToolCallDeltaObject(Schema):
    type: Literal["tool_calls"] = "tool_calls"
    tool_calls: list[ToolCallDelta] | None = None


class RunStepDeltaMessageDelta(Schema):
    type: Literal["message_creation"] = "message_creation"
    message_creation: MessageCreation | None = None


RunStepDeltaStepDetails = Annotated[
    RunStepDeltaMessageDelta | ToolCallDeltaObject, Field(discriminator="type")
]


class RunStepDelta(Schema):
    step_details: RunStepDeltaStepDetails | None = None


class RunStepDeltaEvent(Schema):
    """The data of `thread.run.step.delta`."""

    id: str
    object: Literal["thread.run.step.delta"] = "thread.run.step.delta"
    delta: RunStepDelta
