"""Checking and normalising `tool_resources` given on assistants, threads and thread-and-run.

Every file or vector store named must belong to the caller's project; an id from another
project is reported exactly like one that does not exist.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.errors import InvalidRequestError
from assistantd.files.references import check_file_ids
from assistantd.schemas import (
    CodeInterpreterResources,
    FileSearchResources,
    ToolResources,
    ToolResourcesRequest,
)
from assistantd.vector_stores import service as vector_stores
from assistantd.vector_stores import store as vector_stores_store
from assistantd.vector_stores.schemas import CreateVectorStoreRequest


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
        await check_file_ids(conn, project, file_ids, f"{param}.code_interpreter.file_ids[{{}}]")
        resources.code_interpreter = CodeInterpreterResources(file_ids=file_ids)
    if request.file_search is not None:
        resources.file_search = await _resolve_file_search(conn, project, request, param)
    return resources


async def _resolve_file_search(
    conn: AsyncConnection, project: str, request: ToolResourcesRequest, param: str
) -> FileSearchResources:
    file_search = request.file_search
    assert file_search is not None
    param = f"{param}.file_search"
    if file_search.vector_store_ids and file_search.vector_stores:
        raise InvalidRequestError(
            "Provide either vector_store_ids or vector_stores, not both.", param=param
        )
    if file_search.vector_stores:  # the helper: make a store from files, attach it
        helper = file_search.vector_stores[0]
        store = await vector_stores.create_store(
            conn,
            project,
            CreateVectorStoreRequest(
                file_ids=helper.file_ids,
                chunking_strategy=helper.chunking_strategy,
                metadata=helper.metadata,
            ),
        )  # the ingestor picks the files up once committed
        return FileSearchResources(vector_store_ids=[store.id])
    ids = file_search.vector_store_ids or []
    found = await vector_stores_store.existing_store_ids(conn, project, ids)
    for store_id in ids:
        if store_id not in found:
            raise InvalidRequestError(
                f"No vector store found with id '{store_id}'.", param=f"{param}.vector_store_ids"
            )
    return FileSearchResources(vector_store_ids=ids)
