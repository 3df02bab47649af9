"""HTTP routes for /files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import StreamingResponse

from assistantd.auth import Project
from assistantd.db.deps import ReadConn, TransactionRoute
from assistantd.files import service
from assistantd.pagination import PageParams, file_page_params
from assistantd.responses import ObjectResponse
from assistantd.services import get_services

router = APIRouter(prefix="/files", tags=["files"], route_class=TransactionRoute)


@router.post("")
async def create_file(request: Request, project: Project) -> ObjectResponse:
    state = get_services(request)
    async with request.form(max_files=1, max_fields=10) as form:
        file = await service.create(
            state.db, state.blobs, project, form, state.settings.max_upload_bytes
        )
    return ObjectResponse(file)


@router.get("")
async def list_files(
    params: Annotated[PageParams, Depends(file_page_params)],
    project: Project,
    conn: ReadConn,
    purpose: Annotated[str | None, Query()] = None,
) -> ObjectResponse:
    return ObjectResponse(await service.page(conn, project, params, purpose))


@router.get("/{file_id}")
async def get_file(file_id: str, project: Project, conn: ReadConn) -> ObjectResponse:
    return ObjectResponse(await service.get(conn, project, file_id))


@router.get("/{file_id}/content")
async def get_file_content(
    file_id: str, request: Request, project: Project, conn: ReadConn
) -> StreamingResponse:
    chunks = await service.content(conn, get_services(request).blobs, project, file_id)
    return StreamingResponse(chunks, media_type="application/octet-stream")


@router.delete("/{file_id}")
async def delete_file(file_id: str, request: Request, project: Project) -> ObjectResponse:
    state = get_services(request)
    deleted = await service.delete(state.db, state.blobs, project, file_id, state.file_holders)
    return ObjectResponse(deleted)
