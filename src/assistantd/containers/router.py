"""HTTP routes for /containers and their files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from assistantd.auth import Project
from assistantd.body import json_body, parse_json, validate_body
from assistantd.containers import service
from assistantd.containers.schemas import CreateContainerFileRequest, CreateContainerRequest
from assistantd.db.deps import ReadConn, TransactionRoute
from assistantd.errors import InvalidRequestError
from assistantd.pagination import PageParams, page_params
from assistantd.responses import ObjectResponse
from assistantd.services import get_services

router = APIRouter(prefix="/containers", tags=["containers"], route_class=TransactionRoute)


@router.post("")
async def create_container(
    request: Request,
    body: Annotated[CreateContainerRequest, json_body(CreateContainerRequest)],
    project: Project,
) -> ObjectResponse:
    state = get_services(request)
    made = await service.create(state.db, state.sandbox, state.manifests, project, body)
    return ObjectResponse(made)


@router.get("")
async def list_containers(
    params: Annotated[PageParams, Depends(page_params)], project: Project, conn: ReadConn
) -> ObjectResponse:
    return ObjectResponse(await service.page(conn, project, params))


@router.get("/{container_id}")
async def get_container(container_id: str, project: Project, conn: ReadConn) -> ObjectResponse:
    return ObjectResponse(await service.get(conn, project, container_id))


@router.delete("/{container_id}")
async def delete_container(container_id: str, request: Request, project: Project) -> ObjectResponse:
    state = get_services(request)
    deleted = await service.delete(state.db, state.sandbox, state.blobs, project, container_id)
    return ObjectResponse(deleted)


@router.post("/{container_id}/files")
async def create_container_file(
    container_id: str, request: Request, project: Project
) -> ObjectResponse:
    """A multipart upload (`file`), or JSON naming a File (`{"file_id": ...}`)."""

    async def read() -> service.FileSource:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            async with request.form(max_files=1, max_fields=10) as form:
                upload = form.get("file")
                if not isinstance(upload, UploadFile) or not upload.filename:
                    raise InvalidRequestError(
                        "Missing required parameter: 'file'.",
                        param="file",
                        code="missing_required_parameter",
                    )
                return upload.filename.rsplit("/", 1)[-1], await upload.read()
        return validate_body(CreateContainerFileRequest, parse_json(await request.body())).file_id

    state = get_services(request)
    added = await service.add_upload(
        state.db, state.sandbox, state.blobs, state.manifests, project, container_id, read
    )
    return ObjectResponse(added)


@router.get("/{container_id}/files")
async def list_container_files(
    container_id: str,
    params: Annotated[PageParams, Depends(page_params)],
    project: Project,
    conn: ReadConn,
) -> ObjectResponse:
    return ObjectResponse(await service.files(conn, project, container_id, params))


@router.get("/{container_id}/files/{file_id}")
async def get_container_file(
    container_id: str, file_id: str, project: Project, conn: ReadConn
) -> ObjectResponse:
    return ObjectResponse(await service.get_file(conn, project, container_id, file_id))


@router.get("/{container_id}/files/{file_id}/content")
async def get_container_file_content(
    container_id: str, file_id: str, request: Request, project: Project, conn: ReadConn
) -> Response:
    state = get_services(request)
    data = await service.content(conn, state.sandbox, state.blobs, project, container_id, file_id)
    return Response(data, media_type="application/octet-stream")


@router.delete("/{container_id}/files/{file_id}")
async def delete_container_file(
    container_id: str, file_id: str, request: Request, project: Project
) -> ObjectResponse:
    state = get_services(request)
    return ObjectResponse(
        await service.delete_file(
            state.db, state.sandbox, state.blobs, project, container_id, file_id
        )
    )
