"""Vector store objects and requests, mirroring openai-python's `VectorStore`,
`VectorStoreFile`, `VectorStoreFileBatch` and the search page."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from assistantd.file_search.filters import Filter
from assistantd.schemas import (
    ChunkingStrategyParam,
    Metadata,
    Omittable,
    RequestSchema,
    Schema,
    Sparse,
)

Attributes = dict[str, str | float | bool]


def _showable(value: Any) -> Any:
    """Stored attributes as the API can show them: a value that is no string, finite number or
    boolean (the null an older version stored for `1e999`) is left out rather than failing the
    store's lists, gets and searches."""
    if not isinstance(value, dict):
        return value
    return {
        key: item
        for key, item in value.items()
        if isinstance(item, str | bool | int) or (isinstance(item, float) and math.isfinite(item))
    }


StoredAttributes = Annotated[Attributes, BeforeValidator(_showable)]
FileStatus = Literal["in_progress", "completed", "cancelled", "failed"]


class FileCounts(Schema):
    in_progress: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    total: int = 0


class ExpiresAfter(Schema):
    anchor: Literal["last_active_at"] = "last_active_at"
    days: Annotated[int, Field(ge=1, le=365)]


class ExpiresAfterParam(ExpiresAfter):
    """A request's `expires_after`: the anchor must be given (OpenAI answers 400 without it)."""

    anchor: Literal["last_active_at"]


class VectorStore(Sparse):
    id: str
    object: Literal["vector_store"] = "vector_store"
    created_at: int
    name: str = ""
    usage_bytes: int = 0
    file_counts: FileCounts = Field(default_factory=FileCounts)
    status: Literal["expired", "in_progress", "completed"] = "completed"
    expires_after: ExpiresAfter | None = None
    expires_at: int | None = None
    last_active_at: int | None = None
    metadata: dict[str, str] | None = Field(default_factory=dict)


class StaticChunkingParams(Schema):
    max_chunk_size_tokens: int
    chunk_overlap_tokens: int


class StaticChunkingStrategy(Schema):
    type: Literal["static"] = "static"
    static: StaticChunkingParams


class FileLastError(Schema):
    code: Literal["server_error", "unsupported_file", "invalid_file"]
    message: str


class VectorStoreFile(Schema):
    id: str
    object: Literal["vector_store.file"] = "vector_store.file"
    usage_bytes: int = 0
    created_at: int
    vector_store_id: str
    status: FileStatus = "in_progress"
    last_error: FileLastError | None = None
    chunking_strategy: StaticChunkingStrategy | None = None
    attributes: StoredAttributes | None = None


class VectorStoreFileBatch(Schema):
    id: str
    object: Literal["vector_store.files_batch"] = "vector_store.files_batch"
    created_at: int
    vector_store_id: str
    status: FileStatus = "in_progress"
    file_counts: FileCounts = Field(default_factory=FileCounts)


class SearchContent(Schema):
    type: Literal["text"] = "text"
    text: str


class SearchResult(Schema):
    file_id: str
    filename: str
    score: float
    attributes: StoredAttributes | None = None
    content: list[SearchContent]


class SearchResultsPage(Schema):
    object: Literal["vector_store.search_results.page"] = "vector_store.search_results.page"
    search_query: list[str]
    data: list[SearchResult]
    has_more: bool = False
    next_page: str | None = None


class FileContentPage(Schema):
    object: Literal["vector_store.file_content.page"] = "vector_store.file_content.page"
    data: list[SearchContent]
    has_more: bool = False
    next_page: str | None = None


# --- requests ------------------------------------------------------------------------------------

AttributesParam = Annotated[
    dict[
        Annotated[str, Field(max_length=64)],
        Annotated[str, Field(max_length=512)] | float | bool,
    ],
    Field(max_length=16),
]
"""A request's `attributes`: at most 16 pairs, keys ≤64 characters, strings ≤512."""


class CreateVectorStoreRequest(RequestSchema):
    file_ids: Omittable[Annotated[list[str], Field(max_length=500)]] = None
    name: Omittable[Annotated[str, Field(max_length=256)]] = None
    description: Omittable[str] = None
    expires_after: Omittable[ExpiresAfterParam] = None
    chunking_strategy: Omittable[ChunkingStrategyParam] = None
    metadata: Metadata = None


class UpdateVectorStoreRequest(RequestSchema):
    name: Annotated[str, Field(max_length=256)] | None = None
    expires_after: ExpiresAfterParam | None = None
    metadata: Metadata = None


class CreateVectorStoreFileRequest(RequestSchema):
    file_id: str
    chunking_strategy: Omittable[ChunkingStrategyParam] = None
    attributes: AttributesParam | None = None


class UpdateVectorStoreFileRequest(RequestSchema):
    attributes: AttributesParam | None


class BatchFileParam(RequestSchema):
    file_id: str
    chunking_strategy: Omittable[ChunkingStrategyParam] = None
    attributes: AttributesParam | None = None


class CreateFileBatchRequest(RequestSchema):
    file_ids: Omittable[Annotated[list[str], Field(min_length=1, max_length=2000)]] = None
    files: Omittable[Annotated[list[BatchFileParam], Field(min_length=1, max_length=2000)]] = None
    chunking_strategy: Omittable[ChunkingStrategyParam] = None
    attributes: AttributesParam | None = None


class SearchRankingOptions(RequestSchema):
    ranker: Literal["none", "auto", "default-2024-11-15"] = "auto"
    score_threshold: Annotated[float, Field(ge=0, le=1)] = 0.0


class SearchRequest(RequestSchema):
    query: str | Annotated[list[str], Field(min_length=1)]
    rewrite_query: bool = False
    max_num_results: Annotated[int, Field(ge=1, le=50)] = 10
    filters: Omittable[Filter] = None
    ranking_options: Omittable[SearchRankingOptions] = None
