"""JSON responses built straight from our schemas (no re-validation, one serialisation)."""

from __future__ import annotations

from pydantic import BaseModel
from starlette.responses import Response


class ObjectResponse(Response):
    media_type = "application/json"

    def __init__(
        self, obj: BaseModel, *, status_code: int = 200, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(obj.model_dump_json().encode(), status_code=status_code, headers=headers)
