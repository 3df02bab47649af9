"""Shared pydantic building blocks for request and object schemas.

Object schemas mirror openai-python's class names and the spec's field order; every field the
spec requires is present in the JSON, with explicit nulls. Request schemas ignore unknown fields
(newer SDKs send fields we don't know yet) but reject wrong types and out-of-range values with a
400 that names the field.
"""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

T = TypeVar("T")


def _not_null(value: T, info: ValidationInfo) -> T:
    if value is None and info.context and info.context.get("request"):
        raise PydanticCustomError("null_type", "Input should not be null")  # -> invalid_type
    return value


Omittable = Annotated[T | None, AfterValidator(_not_null)]
"""A request field that may be left out (then None) but not sent as null, for the fields
OpenAI's spec types as non-nullable: the default is not validated, an explicit null in a
request body (`body.validate_body`'s context) is; our own code may still pass None."""

MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512


class Schema(BaseModel):
    """Base of every object we return: plain, fast, no extra keys."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Sparse(Schema):
    """An object whose optional fields are absent, not null, when unset (the spec types them
    as non-nullable, e.g. a function tool's `description`)."""

    @model_serializer(mode="wrap")
    def _drop_none(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {key: value for key, value in handler(self).items() if value is not None}


class RequestSchema(BaseModel):
    """Base of request bodies: unknown keys are ignored, known ones are strict about type."""

    model_config = ConfigDict(extra="ignore", strict=False)


def _check_metadata(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is None:
        return value
    if len(value) > MAX_METADATA_PAIRS:
        raise ValueError(f"metadata may hold at most {MAX_METADATA_PAIRS} pairs")
    for key, item in value.items():
        if len(key) > MAX_METADATA_KEY:
            raise ValueError(f"metadata keys may be at most {MAX_METADATA_KEY} characters")
        if len(item) > MAX_METADATA_VALUE:
            raise ValueError(f"metadata values may be at most {MAX_METADATA_VALUE} characters")
    return value


Metadata = Annotated[dict[str, str] | None, AfterValidator(_check_metadata)]
"""Request metadata: at most 16 string pairs, keys ≤64 chars, values ≤512 chars."""

UnixTime = int

ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]
"""An assistant's or a run's `reasoning_effort` (passed to the model as is)."""


class Usage(Schema):
    """A run's or a run step's token counts."""

    completion_tokens: int
    prompt_tokens: int
    total_tokens: int


class DeletedObject(Schema):
    id: str
    object: str
    deleted: bool = True


class Page(Schema, Generic[T]):
    """A cursor page, as every list endpoint returns it."""

    object: Literal["list"] = "list"
    data: list[T]
    first_id: str | None
    last_id: str | None
    has_more: bool


# --- tools and shared option shapes (assistants, runs) -------------------------------------------


class FunctionDefinition(Sparse):
    name: Annotated[str, Field(max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")]
    description: Omittable[str] = None
    parameters: Omittable[dict[str, Any]] = None
    strict: bool | None = False


class RankingOptions(Schema):
    ranker: Literal["auto", "default_2024_08_21"] = "auto"
    score_threshold: Annotated[float, Field(ge=0, le=1)]


class FileSearchOptions(Sparse):
    max_num_results: Omittable[Annotated[int, Field(ge=1, le=50)]] = None
    ranking_options: Omittable[RankingOptions] = None


class CodeInterpreterTool(Schema):
    type: Literal["code_interpreter"]


class FileSearchTool(Sparse):
    type: Literal["file_search"]
    file_search: Omittable[FileSearchOptions] = None


class FunctionTool(Schema):
    type: Literal["function"]
    function: FunctionDefinition


Tool = Annotated[CodeInterpreterTool | FileSearchTool | FunctionTool, Field(discriminator="type")]


class ResponseFormatText(Schema):
    type: Literal["text"]


class ResponseFormatJsonObject(Schema):
    type: Literal["json_object"]


class JsonSchemaSpec(Sparse):
    name: Annotated[str, Field(max_length=64, pattern=r"^[a-zA-Z0-9_-]+$")]
    description: Omittable[str] = None
    schema_: Omittable[dict[str, Any]] = Field(default=None, alias="schema")
    strict: bool | None = None

    model_config = ConfigDict(extra="ignore", populate_by_name=True, serialize_by_alias=True)


class ResponseFormatJsonSchema(Schema):
    type: Literal["json_schema"]
    json_schema: JsonSchemaSpec


ResponseFormat = (
    Literal["auto"]
    | Annotated[
        ResponseFormatText | ResponseFormatJsonObject | ResponseFormatJsonSchema,
        Field(discriminator="type"),
    ]
)


class CodeInterpreterResources(Schema):
    file_ids: Annotated[list[str], Field(max_length=20)] = Field(default_factory=list)


class FileSearchResources(Schema):
    vector_store_ids: Annotated[list[str], Field(max_length=1)] = Field(default_factory=list)


class ToolResources(Sparse):
    """`tool_resources` as objects report it: only the tools that have resources appear."""

    code_interpreter: CodeInterpreterResources | None = None
    file_search: FileSearchResources | None = None


class AutoChunkingStrategyParam(RequestSchema):
    type: Literal["auto"]


class StaticChunkingParam(RequestSchema):
    # The overlap's upper bound (half the size) is checked by file_search.chunking.
    max_chunk_size_tokens: Annotated[int, Field(ge=100, le=4096)]
    chunk_overlap_tokens: Annotated[int, Field(ge=0)]


class StaticChunkingStrategyParam(RequestSchema):
    type: Literal["static"]
    static: StaticChunkingParam


ChunkingStrategyParam = Annotated[
    AutoChunkingStrategyParam | StaticChunkingStrategyParam, Field(discriminator="type")
]
"""A request's `chunking_strategy`."""


class NewVectorStore(Schema):
    """The `vector_stores` helper inside `tool_resources.file_search` of a create request."""

    file_ids: Annotated[list[str], Field(max_length=10000)] = Field(default_factory=list)
    chunking_strategy: Omittable[ChunkingStrategyParam] = None
    metadata: Metadata = None


class FileSearchResourcesRequest(Schema):
    vector_store_ids: Omittable[Annotated[list[str], Field(max_length=1)]] = None
    vector_stores: Omittable[Annotated[list[NewVectorStore], Field(max_length=1)]] = None

    @model_validator(mode="after")
    def _one_of_them(self, info: ValidationInfo) -> FileSearchResourcesRequest:
        given = self.vector_store_ids is not None or self.vector_stores is not None
        if not given and info.context and info.context.get("request"):
            raise PydanticCustomError(
                "missing", "Give vector_store_ids or vector_stores", {"field": "vector_store_ids"}
            )
        return self


class ToolResourcesRequest(Schema):
    code_interpreter: Omittable[CodeInterpreterResources] = None
    file_search: Omittable[FileSearchResourcesRequest] = None
