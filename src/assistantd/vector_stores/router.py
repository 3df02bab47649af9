"""HTTP routes for /vector_stores, their files, file batches and search.

Each route is one service call; services that attach files declare their ingestion, which
starts once the transaction has committed.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from assistantd.auth import Project
from assistantd.body import json_body
from assistantd.db.deps import ReadConn, TransactionRoute, WriteConn
from assistantd.pagination import PageParams, page_params
from assistantd.responses import ObjectResponse
from assistantd.services import get_services
from assistantd.vector_stores import service
from assistantd.vector_stores.schemas import (
    CreateFileBatchRequest,
    CreateVectorStoreFileRequest,
    CreateVectorStoreRequest,
    SearchRequest,
    UpdateVectorStoreFileRequest,
    UpdateVectorStoreRequest,
)

router = APIRouter(prefix="/vector_stores", tags=["vector stores"], route_class=TransactionRoute)
Paging = Annotated[PageParams, Depends(page_params)]
StatusFilter = Annotated[
    Literal["in_progress", "completed", "failed", "cancelled"] | None, Query(alias="filter")
]


@router.post("")
async def create_vector_store(
    body: Annotated[CreateVectorStoreRequest, json_body(CreateVectorStoreRequest)],
    project: Project,
    conn: WriteConn,
) -> ObjectResponse:
    return ObjectResponse(await service.create_store(conn, project, body))


@router.get("")
async def list_vector_stores(params: Paging, project: Project, conn: ReadConn) -> ObjectResponse:
    return ObjectResponse(await service.page_stores(conn, project, params))


@router.get("/{store_id}")
async def get_vector_store(store_id: str, project: Project, conn: ReadConn) -> ObjectResponse:
    return ObjectResponse(await service.get_store(conn, project, store_id))


@router.post("/{store_id}")
async def modify_vector_store(
    store_id: str,
    body: Annotated[UpdateVectorStoreRequest, json_body(UpdateVectorStoreRequest)],
    project: Project,
    conn: WriteConn,
) -> ObjectResponse:
    return ObjectResponse(await service.modify_store(conn, project, store_id, body))


@router.delete("/{store_id}")
async def delete_vector_store(store_id: str, project: Project, conn: WriteConn) -> ObjectResponse:
    return ObjectResponse(await service.delete_store(conn, project, store_id))


@router.post("/{store_id}/search")
async def search_vector_store(
    store_id: str,
    body: Annotated[SearchRequest, json_body(SearchRequest)],
    request: Request,
    project: Project,
) -> ObjectResponse:
    state = get_services(request)
    telemetry = state.telemetry
    started = time.perf_counter()
    with telemetry.tracing.span("search", {"assistantd.vector_store_id": store_id}):
        async with state.db.read() as conn:
            page = await service.search(conn, project, store_id, body, state.file_search)
    if telemetry.metrics is not None:
        telemetry.metrics.search_latency.labels("api").observe(time.perf_counter() - started)
    async with state.db.write() as conn:
        await service.touch(conn, project, await service.get_store(conn, project, store_id))
    return ObjectResponse(page)


# --- files ---------------------------------------------------------------------------------------


@router.post("/{store_id}/files")
async def create_vector_store_file(
    store_id: str,
    body: Annotated[CreateVectorStoreFileRequest, json_body(CreateVectorStoreFileRequest)],
    project: Project,
    conn: WriteConn,
) -> ObjectResponse:
    return ObjectResponse(await service.attach_file(conn, project, store_id, body))


@router.get("/{store_id}/files")
async def list_vector_store_files(
    store_id: str, params: Paging, project: Project, conn: ReadConn, status: StatusFilter = None
) -> ObjectResponse:
    return ObjectResponse(await service.page_files(conn, project, store_id, params, status))


@router.get("/{store_id}/files/{file_id}")
async def get_vector_store_file(
    store_id: str, file_id: str, project: Project, conn: ReadConn
) -> ObjectResponse:
    return ObjectResponse(await service.get_file(conn, project, store_id, file_id))


@router.post("/{store_id}/files/{file_id}")
async def update_vector_store_file(
    store_id: str,
    file_id: str,
    body: Annotated[UpdateVectorStoreFileRequest, json_body(UpdateVectorStoreFileRequest)],
    project: Project,
    conn: WriteConn,
) -> ObjectResponse:
    return ObjectResponse(await service.update_file(conn, project, store_id, file_id, body))


@router.delete("/{store_id}/files/{file_id}")
async def delete_vector_store_file(
    store_id: str, file_id: str, project: Project, conn: WriteConn
) -> ObjectResponse:
    return ObjectResponse(await service.delete_file(conn, project, store_id, file_id))


@router.get("/{store_id}/files/{file_id}/content")
async def get_vector_store_file_content(
    store_id: str, file_id: str, request: Request, project: Project, conn: ReadConn
) -> ObjectResponse:
    blobs = get_services(request).blobs
    return ObjectResponse(await service.file_content(conn, blobs, project, store_id, file_id))


# --- batches -------------------------------------------------------------------------------------


@router.post("/{store_id}/file_batches")
async def create_file_batch(
    store_id: str,
    body: Annotated[CreateFileBatchRequest, json_body(CreateFileBatchRequest)],
    project: Project,
    conn: WriteConn,
) -> ObjectResponse:
    return ObjectResponse(await service.create_batch(conn, project, store_id, body))


@router.get("/{store_id}/file_batches/{batch_id}")
async def get_file_batch(
    store_id: str, batch_id: str, project: Project, conn: ReadConn
) -> ObjectResponse:
    return ObjectResponse(await service.get_batch(conn, project, store_id, batch_id))


@router.post("/{store_id}/file_batches/{batch_id}/cancel")
async def cancel_file_batch(
    store_id: str, batch_id: str, project: Project, conn: WriteConn
) -> ObjectResponse:
    return ObjectResponse(await service.cancel_batch(conn, project, store_id, batch_id))


@router.get("/{store_id}/file_batches/{batch_id}/files")
async def list_file_batch_files(
    store_id: str,
    batch_id: str,
    params: Paging,
    project: Project,
    conn: ReadConn,
    status: StatusFilter = None,
) -> ObjectResponse:
    await service.get_batch(conn, project, store_id, batch_id)
    return ObjectResponse(
        await service.page_files(conn, project, store_id, params, status, batch_id)
    )
