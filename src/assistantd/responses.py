"""JSON responses built straight from our schemas (no re-validation, one serialisation)."""

from __future__ import annotations

from typing import Protocol

from starlette.responses import Response


class Serialisable(Protocol):
    """A schema, or anything that renders its JSON the same way (e.g. db.documents.RawPage)."""

    def model_dump_json(self) -> str: ...


class ObjectResponse(Response):
    media_type = "application/json"

    def __init__(
        self, obj: Serialisable, *, status_code: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(obj.model_dump_json().encode(), status_code=status_code, headers=headers)
