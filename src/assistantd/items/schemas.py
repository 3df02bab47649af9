"""Item objects as the Responses and Conversations APIs show them (openai-python's
`ResponseOutputMessage`, `ResponseFunctionToolCallItem`, ...), and the input forms a request
may give them in (`EasyInputMessage`, full items, `function_call_output`, `item_reference`).

Input items are lenient about extra keys on purpose: programs pass the SDK's own output objects
back as input (`input=response.output`), and those carry keys that are display-only (`parsed`
on a structured-output text, `logprobs`, `created_by`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag

from assistantd.schemas import Schema, Sparse

ItemStatus = Literal["in_progress", "completed", "incomplete"]
ItemId = Annotated[str, Field(min_length=1, max_length=128)]

# --- content parts ---------------------------------------------------------------------------


class PromptCacheBreakpoint(Schema):
    mode: Literal["explicit"]


# A prompt-caching hint on an input part: checked as OpenAI does, not kept (the upstream's
# chat completions have no such marker to pass it to).


class InputText(Schema):
    type: Literal["input_text"] = "input_text"
    text: str
    prompt_cache_breakpoint: PromptCacheBreakpoint | None = Field(default=None, exclude=True)


class InputImage(Schema):
    type: Literal["input_image"] = "input_image"
    detail: Literal["low", "high", "auto"] = "auto"
    image_url: str | None = None
    file_id: str | None = None
    prompt_cache_breakpoint: PromptCacheBreakpoint | None = Field(default=None, exclude=True)


class InputFile(Sparse):
    type: Literal["input_file"] = "input_file"
    file_id: str | None = None
    filename: str | None = None
    file_data: str | None = None
    file_url: str | None = None
    detail: Literal["auto", "low", "high"] | None = None
    prompt_cache_breakpoint: PromptCacheBreakpoint | None = Field(default=None, exclude=True)


class OutputText(Schema):
    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[dict[str, Any]] = Field(default_factory=list)
    logprobs: list[dict[str, Any]] = Field(default_factory=list)


class Refusal(Schema):
    type: Literal["refusal"] = "refusal"
    refusal: str


Content = Annotated[
    InputText | InputImage | InputFile | OutputText | Refusal, Field(discriminator="type")
]
InputContent = Annotated[InputText | InputImage | InputFile, Field(discriminator="type")]

# --- items -----------------------------------------------------------------------------------


class MessageItem(Schema):
    type: Literal["message"] = "message"
    id: str
    status: ItemStatus = "completed"
    role: Literal["user", "assistant", "system", "developer"]
    content: list[Content]


class FunctionCallItem(Schema):
    type: Literal["function_call"] = "function_call"
    id: str
    call_id: str
    name: str
    arguments: str
    status: ItemStatus = "completed"


class FunctionCallOutputItem(Schema):
    type: Literal["function_call_output"] = "function_call_output"
    id: str
    call_id: str
    output: str | list[InputContent]
    status: ItemStatus = "completed"


class FileSearchResult(Sparse):
    file_id: str
    filename: str
    score: float
    text: str
    attributes: dict[str, Any] | None = None


class FileSearchCallItem(Schema):
    type: Literal["file_search_call"] = "file_search_call"
    id: str
    status: Literal["in_progress", "searching", "completed", "incomplete", "failed"] = "completed"
    queries: list[str]
    results: list[FileSearchResult] | None = None


class LogsOutput(Schema):
    type: Literal["logs"] = "logs"
    logs: str


class ImageOutput(Schema):
    type: Literal["image"] = "image"
    url: str


CodeOutput = Annotated[LogsOutput | ImageOutput, Field(discriminator="type")]


class CodeInterpreterCallItem(Schema):
    type: Literal["code_interpreter_call"] = "code_interpreter_call"
    id: str
    status: Literal["in_progress", "completed", "incomplete", "interpreting", "failed"] = (
        "completed"
    )
    container_id: str
    code: str | None
    outputs: list[CodeOutput] | None = None


Item = Annotated[
    MessageItem
    | FunctionCallItem
    | FunctionCallOutputItem
    | FileSearchCallItem
    | CodeInterpreterCallItem,
    Field(discriminator="type"),
]

# --- input forms -----------------------------------------------------------------------------


class _Lenient(BaseModel):
    # `allow` tells body.json_body not to reject the keys it does not know (see above); the
    # extras are dropped when the input becomes a stored item.
    model_config = ConfigDict(extra="allow")


class MessageInput(_Lenient):
    """An easy message (`{"role", "content": str | parts}`) or a full message item."""

    type: Literal["message"] = "message"
    id: ItemId | None = None
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[Content]
    status: ItemStatus | None = None


class DirectCaller(Sparse):
    type: Literal["direct"]


class ProgramCaller(Sparse):
    type: Literal["program"]
    caller_id: Annotated[str, Field(min_length=1, max_length=64)]


# Who made a tool call (OpenAI's programmatic tool calling): checked, not kept.
Caller = Annotated[DirectCaller | ProgramCaller, Field(discriminator="type")]


class FunctionCallInput(_Lenient):
    type: Literal["function_call"]
    id: ItemId | None = None
    call_id: Annotated[str, Field(min_length=1, max_length=64)]
    name: str
    arguments: str
    status: ItemStatus | None = None
    caller: Caller | None = None
    namespace: str | None = None


class FunctionCallOutputInput(_Lenient):
    type: Literal["function_call_output"]
    id: ItemId | None = None
    call_id: Annotated[str, Field(min_length=1, max_length=64)]
    output: Annotated[str, Field(max_length=10_485_760)] | list[InputContent]
    status: ItemStatus | None = None
    caller: Caller | None = None
    # The tool that produced it (OpenAI's shapes): checked, not kept.
    name: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    namespace: (
        Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")] | None
    ) = None


class FileSearchCallInput(_Lenient):
    """A `file_search_call` output item given back as input."""

    type: Literal["file_search_call"]
    id: ItemId
    status: Literal["in_progress", "searching", "completed", "incomplete", "failed"] | None = None
    queries: list[str]
    results: list[FileSearchResult] | None = None


class CodeInterpreterCallInput(_Lenient):
    """A `code_interpreter_call` output item given back as input."""

    type: Literal["code_interpreter_call"]
    id: ItemId
    status: str | None = None
    container_id: str
    code: str | None = None
    outputs: list[CodeOutput] | None = None


class ItemReferenceInput(_Lenient):
    type: Literal["item_reference"] | None = "item_reference"
    id: ItemId


def _input_kind(value: Any) -> str | None:
    """The union member of an input item: its `type`, or for an untyped one, a message when it
    has a role (an easy message) and a reference otherwise."""
    if isinstance(value, dict):
        kind = value.get("type")
        if kind is None:
            return "message" if "role" in value else "item_reference"
        return kind if isinstance(kind, str) else None
    return getattr(value, "type", None)


InputItem = Annotated[
    Annotated[MessageInput, Tag("message")]
    | Annotated[FunctionCallInput, Tag("function_call")]
    | Annotated[FunctionCallOutputInput, Tag("function_call_output")]
    | Annotated[FileSearchCallInput, Tag("file_search_call")]
    | Annotated[CodeInterpreterCallInput, Tag("code_interpreter_call")]
    | Annotated[ItemReferenceInput, Tag("item_reference")],
    Discriminator(_input_kind),
]
