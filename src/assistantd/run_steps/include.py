"""The `include[]` query parameter of run steps (and of run create, for the streamed steps)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from assistantd.errors import InvalidRequestError

SEARCH_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"
INCLUDABLE = (SEARCH_CONTENT,)


async def include_param(request: Request) -> list[str] | None:
    """The values of `include[]` (the SDKs' spelling; a bare `include` is taken too), each one
    OpenAI knows, else a 400."""
    query = request.query_params
    values = [*query.getlist("include[]"), *query.getlist("include")]
    for value in values:
        if value not in INCLUDABLE:
            raise InvalidRequestError(
                f"Invalid value: '{value}'. Supported values are: "
                + ", ".join(f"'{known}'" for known in INCLUDABLE)
                + ".",
                param="include",
                code="invalid_value",
            )
    return values or None


Include = Annotated[list[str] | None, Depends(include_param)]
