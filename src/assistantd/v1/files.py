"""v1's assistant files, kept in step with the v2 form of the assistant.

An assistant's v1 `file_ids` are its `tool_resources.code_interpreter.file_ids`; when it has the
`retrieval` (file_search) tool they are also exactly the files of its own vector store, which
is made on demand and named "<assistant id> files". A store the user attached through v2 is
never changed by v1: a v1 write replaces it with the assistant's own store.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.assistants import store as assistants_store
from assistantd.assistants.schemas import Assistant
from assistantd.errors import InvalidRequestError, NotFoundError
from assistantd.files import references
from assistantd.files import store as files_store
from assistantd.pagination import PageParams
from assistantd.schemas import CodeInterpreterResources, FileSearchResources, ToolResources
from assistantd.v1 import shapes
from assistantd.vector_stores import service as vector_stores
from assistantd.vector_stores import store as vs_store
from assistantd.vector_stores.schemas import CreateVectorStoreFileRequest, CreateVectorStoreRequest

MAX_FILES = 20


def _own_name(assistant: Assistant) -> str:
    return f"{assistant.id} files"


async def _own_store(conn: AsyncConnection, project: str, assistant: Assistant) -> str | None:
    resources = assistant.tool_resources
    if resources is None or resources.file_search is None:
        return None
    for store_id in resources.file_search.vector_store_ids:
        found = await vs_store.get_store(conn, project, store_id)
        if found is not None and found.name == _own_name(assistant):
            return store_id
    return None


async def _store_files(conn: AsyncConnection, project: str, store_id: str) -> list[str]:
    found: list[str] = []
    after = None
    while True:
        page = await vs_store.page_files(
            conn, project, store_id, PageParams(100, "asc", after, None), None, None
        )
        found += [item.id for item in page.data]
        if not page.has_more:
            return found
        after = page.last_id


async def set_files(
    conn: AsyncConnection, project: str, assistant: Assistant, file_ids: list[str]
) -> Assistant:
    """Make `file_ids` the assistant's v1 files (checked to exist in the project)."""
    file_ids = list(dict.fromkeys(file_ids))
    if len(file_ids) > MAX_FILES:
        raise InvalidRequestError(
            f"An assistant can have at most {MAX_FILES} files.",
            param="file_ids",
            code="array_above_max_length",
        )
    await references.check_file_ids(conn, project, file_ids, "file_ids")
    resources = assistant.tool_resources or ToolResources()
    resources.code_interpreter = CodeInterpreterResources(file_ids=file_ids)
    retrieval = any(item.type == "file_search" for item in assistant.tools)
    store_id = await _own_store(conn, project, assistant)
    if store_id is None and retrieval and file_ids:
        made = await vector_stores.create_store(  # its files are ingested after the commit
            conn, project, CreateVectorStoreRequest(name=_own_name(assistant), file_ids=file_ids)
        )
        store_id = made.id
    elif store_id is not None:
        present = await _store_files(conn, project, store_id)
        for file_id in file_ids:
            if file_id not in present:
                await vector_stores.attach_file(
                    conn, project, store_id, CreateVectorStoreFileRequest(file_id=file_id)
                )
        for file_id in present:
            if file_id not in file_ids:
                await vector_stores.delete_file(conn, project, store_id, file_id)
    if store_id is not None:
        resources.file_search = FileSearchResources(vector_store_ids=[store_id])
    assistant.tool_resources = resources
    await assistants_store.update(conn, project, assistant)
    return assistant


async def _assistant(conn: AsyncConnection, project: str, assistant_id: str) -> Assistant:
    found = await assistants_store.get(conn, project, assistant_id)
    if found is None:
        raise NotFoundError.for_id("assistant", assistant_id)
    return found


async def _shown(
    conn: AsyncConnection, project: str, assistant: Assistant, file_ids: list[str]
) -> list[dict[str, Any]]:
    """AssistantFile objects; `created_at` is the File's (v2 keeps no attach time)."""
    made = {f.id: f.created_at for f in await files_store.get_many(conn, project, file_ids)}
    return [
        shapes.assistant_file(file_id, assistant.id, made.get(file_id, assistant.created_at))
        for file_id in file_ids
    ]


async def attach(
    conn: AsyncConnection, project: str, assistant_id: str, file_id: str
) -> dict[str, Any]:
    assistant = await _assistant(conn, project, assistant_id)
    current = shapes.assistant_file_ids(assistant)
    if file_id not in current:
        await set_files(conn, project, assistant, [*current, file_id])
    return (await _shown(conn, project, assistant, [file_id]))[0]


async def get(
    conn: AsyncConnection, project: str, assistant_id: str, file_id: str
) -> dict[str, Any]:
    assistant = await _assistant(conn, project, assistant_id)
    if file_id not in shapes.assistant_file_ids(assistant):
        raise NotFoundError(f"No assistant file found with id '{file_id}'.")
    return (await _shown(conn, project, assistant, [file_id]))[0]


async def detach(
    conn: AsyncConnection, project: str, assistant_id: str, file_id: str
) -> dict[str, Any]:
    assistant = await _assistant(conn, project, assistant_id)
    current = shapes.assistant_file_ids(assistant)
    if file_id not in current:
        raise NotFoundError(f"No assistant file found with id '{file_id}'.")
    await set_files(conn, project, assistant, [f for f in current if f != file_id])
    return {"id": file_id, "object": "assistant.file.deleted", "deleted": True}


def page_list(items: list[dict[str, Any]], params: PageParams) -> dict[str, Any]:
    """A cursor page over a short list held in memory (oldest first as given)."""
    ordered = items if params.order == "asc" else items[::-1]
    position = [item["id"] for item in ordered]
    start, stop = 0, len(ordered)
    if params.after in position:
        start = position.index(params.after) + 1
    if params.before in position:
        stop = position.index(params.before)
    window = ordered[start:stop]
    if params.before is not None and params.after is None:
        data = window[-params.limit :]
        has_more = len(window) > params.limit
    else:
        data = window[: params.limit]
        has_more = len(window) > params.limit
    return {
        "object": "list",
        "data": data,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }


async def page(
    conn: AsyncConnection, project: str, assistant_id: str, params: PageParams
) -> dict[str, Any]:
    assistant = await _assistant(conn, project, assistant_id)
    shown = await _shown(conn, project, assistant, shapes.assistant_file_ids(assistant))
    return page_list(shown, params)
