"""Checking and normalising `tool_resources` given on assistants, threads and thread-and-run.

Every file or vector store named must belong to the caller's project; an id from another
project is reported exactly like one that does not exist.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.errors import InvalidRequestError
from assistantd.files import store as files_store
from assistantd.schemas import (
    CodeInterpreterResources,
    FileSearchResources,
    ToolResources,
    ToolResourcesRequest,
)


async def check_file_ids(
    conn: AsyncConnection, project: str, file_ids: list[str], param: str
) -> None:
    missing = await files_store.missing_ids(conn, project, file_ids)
    if missing:
        raise InvalidRequestError(f"No file found with id '{missing[0]}'.", param=param)


async def resolve(
    conn: AsyncConnection,
    project: str,
    request: ToolResourcesRequest | None,
    param: str = "tool_resources",
) -> ToolResources:
    """Validate a request's tool_resources and return the object form."""
    resources = ToolResources()
    if request is None:
        return resources
    if request.code_interpreter is not None:
        file_ids = request.code_interpreter.file_ids
        await check_file_ids(conn, project, file_ids, f"{param}.code_interpreter.file_ids")
        resources.code_interpreter = CodeInterpreterResources(file_ids=file_ids)
    if request.file_search is not None:
        resources.file_search = await _resolve_file_search(request, param)
    return resources


async def _resolve_file_search(request: ToolResourcesRequest, param: str) -> FileSearchResources:
    file_search = request.file_search
    assert file_search is not None
    if file_search.vector_stores:
        raise InvalidRequestError(
            "Creating vector stores through tool_resources is not supported yet.",
            param=f"{param}.file_search.vector_stores",
        )
    ids = file_search.vector_store_ids or []
    if ids:  # vector stores arrive with the file search feature; none can exist before it
        raise InvalidRequestError(
            f"No vector store found with id '{ids[0]}'.",
            param=f"{param}.file_search.vector_store_ids",
        )
    return FileSearchResources(vector_store_ids=[])
