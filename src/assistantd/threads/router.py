"""HTTP routes for /threads (the thread itself; messages and runs have their own routers)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from assistantd.auth import Project
from assistantd.body import json_body
from assistantd.db.deps import ReadConn, TransactionRoute, WriteConn
from assistantd.errors import InvalidRequestError
from assistantd.pagination import PageParams, page_params
from assistantd.responses import ObjectResponse
from assistantd.schemas import MAX_METADATA_KEY, MAX_METADATA_PAIRS, MAX_METADATA_VALUE
from assistantd.threads import service
from assistantd.threads.schemas import CreateThreadRequest, ModifyThreadRequest

router = APIRouter(prefix="/threads", tags=["threads"], route_class=TransactionRoute)


@router.post("")
async def create_thread(
    body: Annotated[CreateThreadRequest, json_body(CreateThreadRequest, required=False)],
    project: Project,
    conn: WriteConn,
) -> ObjectResponse:
    return ObjectResponse(await service.create(conn, project, body))


_METADATA_PARAM = re.compile(r"^metadata\[(?P<key>[^\]]*)\]$")


async def metadata_filter(request: Request) -> dict[str, str]:
    """`?metadata[key]=value` pairs (each must match); at most 16, sized like metadata."""
    found: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        match = _METADATA_PARAM.match(name)
        if match is None:
            continue
        key = match.group("key")
        if not key or len(key) > MAX_METADATA_KEY or len(value) > MAX_METADATA_VALUE:
            raise InvalidRequestError(
                f"Invalid '{name}': metadata keys must be 1-{MAX_METADATA_KEY} characters and "
                f"values at most {MAX_METADATA_VALUE}.",
                param=name,
                code="invalid_value",
            )
        found[key] = value
    if len(found) > MAX_METADATA_PAIRS:
        raise InvalidRequestError(
            f"At most {MAX_METADATA_PAIRS} metadata filters may be given.",
            param="metadata",
            code="invalid_value",
        )
    return found


@router.get("")
async def list_threads(
    params: Annotated[PageParams, Depends(page_params)],
    metadata: Annotated[dict[str, str], Depends(metadata_filter)],
    project: Project,
    conn: ReadConn,
) -> ObjectResponse:
    """An extension: the project's threads, newest first, filtered by metadata."""
    return ObjectResponse(await service.page(conn, project, params, metadata))


@router.get("/{thread_id}")
async def get_thread(thread_id: str, project: Project, conn: ReadConn) -> ObjectResponse:
    return ObjectResponse(await service.get(conn, project, thread_id))


@router.post("/{thread_id}")
async def modify_thread(
    thread_id: str,
    body: Annotated[ModifyThreadRequest, json_body(ModifyThreadRequest)],
    project: Project,
    conn: WriteConn,
) -> ObjectResponse:
    return ObjectResponse(await service.modify(conn, project, thread_id, body))


@router.delete("/{thread_id}")
async def delete_thread(thread_id: str, project: Project, conn: WriteConn) -> ObjectResponse:
    # The thread's code-interpreter session and files go once the delete has committed.
    return ObjectResponse(await service.delete(conn, project, thread_id))
