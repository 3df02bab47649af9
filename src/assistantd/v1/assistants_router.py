"""v1 routes for /assistants and /assistants/{id}/files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from assistantd.assistants import service
from assistantd.assistants.schemas import Assistant
from assistantd.auth import Project
from assistantd.body import json_body
from assistantd.db.deps import ReadConn, TransactionRoute, WriteConn
from assistantd.pagination import PageParams, page_params
from assistantd.v1 import files, requests, shapes
from assistantd.v1.http import json_response, raw_page
from assistantd.v1.requests import (
    V1CreateAssistantFileRequest,
    V1CreateAssistantRequest,
    V1ModifyAssistantRequest,
)

router = APIRouter(prefix="/assistants", route_class=TransactionRoute)
Page = Annotated[PageParams, Depends(page_params)]


@router.post("")
async def create_assistant(
    body: Annotated[V1CreateAssistantRequest, json_body(V1CreateAssistantRequest)],
    project: Project,
    conn: WriteConn,
) -> Response:
    assistant = await service.create(conn, project, requests.create_assistant(body))
    assistant = await files.set_files(conn, project, assistant, body.file_ids or [])
    return json_response(shapes.assistant(assistant))


@router.get("")
async def list_assistants(params: Page, project: Project, conn: ReadConn) -> Response:
    page = await service.page(conn, project, params)
    return json_response(
        raw_page(page, lambda raw: shapes.assistant(Assistant.model_validate(raw)))
    )


@router.get("/{assistant_id}")
async def get_assistant(assistant_id: str, project: Project, conn: ReadConn) -> Response:
    return json_response(shapes.assistant(await service.get(conn, project, assistant_id)))


@router.post("/{assistant_id}")
async def modify_assistant(
    assistant_id: str,
    body: Annotated[V1ModifyAssistantRequest, json_body(V1ModifyAssistantRequest)],
    project: Project,
    conn: WriteConn,
) -> Response:
    assistant = await service.modify(conn, project, assistant_id, requests.modify_assistant(body))
    given = body.file_ids if "file_ids" in body.model_fields_set else None
    file_ids = given if given is not None else shapes.assistant_file_ids(assistant)
    assistant = await files.set_files(conn, project, assistant, file_ids)  # tools may have changed
    return json_response(shapes.assistant(assistant))


@router.delete("/{assistant_id}")
async def delete_assistant(assistant_id: str, project: Project, conn: WriteConn) -> Response:
    deleted = await service.delete(conn, project, assistant_id)
    return json_response(deleted.model_dump(mode="json"))


@router.post("/{assistant_id}/files")
async def create_assistant_file(
    assistant_id: str,
    body: Annotated[V1CreateAssistantFileRequest, json_body(V1CreateAssistantFileRequest)],
    project: Project,
    conn: WriteConn,
) -> Response:
    return json_response(await files.attach(conn, project, assistant_id, body.file_id))


@router.get("/{assistant_id}/files")
async def list_assistant_files(
    assistant_id: str, params: Page, project: Project, conn: ReadConn
) -> Response:
    return json_response(await files.page(conn, project, assistant_id, params))


@router.get("/{assistant_id}/files/{file_id}")
async def get_assistant_file(
    assistant_id: str, file_id: str, project: Project, conn: ReadConn
) -> Response:
    return json_response(await files.get(conn, project, assistant_id, file_id))


@router.delete("/{assistant_id}/files/{file_id}")
async def delete_assistant_file(
    assistant_id: str, file_id: str, project: Project, conn: WriteConn
) -> Response:
    return json_response(await files.detach(conn, project, assistant_id, file_id))
