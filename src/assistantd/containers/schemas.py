"""Container objects and requests, mirroring openai-python's `Container` and `ContainerFile`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from assistantd.schemas import RequestSchema, Schema

DEFAULT_MINUTES = 20


class ExpiresAfter(Schema):
    anchor: Literal["last_active_at"] = "last_active_at"
    minutes: Annotated[int, Field(ge=1, le=20)] = DEFAULT_MINUTES


class Container(Schema):
    id: str
    object: Literal["container"] = "container"
    name: str
    created_at: int
    status: Literal["running", "expired"] = "running"
    last_active_at: int
    expires_after: ExpiresAfter = Field(default_factory=ExpiresAfter)
    memory_limit: Literal["1g", "4g", "16g", "64g"] = "1g"


def is_expired(container: Container, now: float) -> bool:
    """Idle past `expires_after.minutes` since `last_active_at` (OpenAI's only anchor)."""
    idle_s = container.expires_after.minutes * 60
    return container.status == "expired" or now >= container.last_active_at + idle_s


class ContainerFile(Schema):
    id: str
    object: Literal["container.file"] = "container.file"
    container_id: str
    created_at: int
    bytes: int
    path: str  # /mnt/data/<name>
    source: Literal["user", "assistant"]


class CreateContainerRequest(RequestSchema):
    name: Annotated[str, Field(min_length=1, max_length=256)]
    file_ids: Annotated[list[str], Field(max_length=50)] | None = None
    expires_after: ExpiresAfter | None = None
    memory_limit: Literal["1g"] | None = None  # the sandbox's limit is the operator's setting


class CreateContainerFileRequest(RequestSchema):
    file_id: str
