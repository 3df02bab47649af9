"""v1 routes for /threads, their messages and message files."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from assistantd.auth import Project
from assistantd.body import json_body
from assistantd.db.deps import ReadConn, TransactionRoute, WriteConn
from assistantd.errors import NotFoundError
from assistantd.messages import service as messages
from assistantd.messages.schemas import ModifyMessageRequest
from assistantd.pagination import PageParams, page_params
from assistantd.threads import service as threads
from assistantd.threads.router import metadata_filter
from assistantd.threads.schemas import ModifyThreadRequest
from assistantd.v1 import files, requests, shapes
from assistantd.v1.http import json_response, raw_page
from assistantd.v1.requests import (
    V1CreateMessageRequest,
    V1CreateThreadRequest,
    V1ModifyThreadRequest,
)

router = APIRouter(prefix="/threads", route_class=TransactionRoute)
Page = Annotated[PageParams, Depends(page_params)]


@router.post("")
async def create_thread(
    body: Annotated[V1CreateThreadRequest, json_body(V1CreateThreadRequest)],
    project: Project,
    conn: WriteConn,
) -> Response:
    return json_response(
        shapes.thread(await threads.create(conn, project, requests.create_thread(body)))
    )


@router.get("")
async def list_threads(
    params: Page,
    metadata: Annotated[dict[str, str], Depends(metadata_filter)],
    project: Project,
    conn: ReadConn,
) -> Response:
    return json_response(
        raw_page(await threads.page(conn, project, params, metadata), shapes.thread)
    )


@router.get("/{thread_id}")
async def get_thread(thread_id: str, project: Project, conn: ReadConn) -> Response:
    return json_response(shapes.thread(await threads.get(conn, project, thread_id)))


@router.post("/{thread_id}")
async def modify_thread(
    thread_id: str,
    body: Annotated[V1ModifyThreadRequest, json_body(V1ModifyThreadRequest)],
    project: Project,
    conn: WriteConn,
) -> Response:
    request = ModifyThreadRequest()
    if "metadata" in body.model_fields_set:
        request.metadata = body.metadata
    return json_response(shapes.thread(await threads.modify(conn, project, thread_id, request)))


@router.delete("/{thread_id}")
async def delete_thread(thread_id: str, project: Project, conn: WriteConn) -> Response:
    deleted = await threads.delete(conn, project, thread_id)  # the sandbox's files go after
    return json_response(deleted.model_dump(mode="json"))


@router.post("/{thread_id}/messages")
async def create_message(
    thread_id: str,
    body: Annotated[V1CreateMessageRequest, json_body(V1CreateMessageRequest)],
    project: Project,
    conn: WriteConn,
) -> Response:
    message = await messages.create(conn, project, thread_id, requests.message(body))
    return json_response(shapes.message(message))


@router.get("/{thread_id}/messages")
async def list_messages(
    thread_id: str,
    params: Page,
    project: Project,
    conn: ReadConn,
    run_id: Annotated[str | None, Query()] = None,
) -> Response:
    page = await messages.page(conn, project, thread_id, params, run_id or None)
    return json_response(raw_page(page, shapes.message))


@router.get("/{thread_id}/messages/{message_id}")
async def get_message(
    thread_id: str, message_id: str, project: Project, conn: ReadConn
) -> Response:
    return json_response(shapes.message(await messages.get(conn, project, thread_id, message_id)))


@router.post("/{thread_id}/messages/{message_id}")
async def modify_message(
    thread_id: str,
    message_id: str,
    body: Annotated[ModifyMessageRequest, json_body(ModifyMessageRequest)],
    project: Project,
    conn: WriteConn,
) -> Response:
    message = await messages.modify(conn, project, thread_id, message_id, body)
    return json_response(shapes.message(message))


@router.get("/{thread_id}/messages/{message_id}/files")
async def list_message_files(
    thread_id: str, message_id: str, params: Page, project: Project, conn: ReadConn
) -> Response:
    message = await messages.get(conn, project, thread_id, message_id)
    shown = [shapes.message_file(f, message) for f in shapes.message(message)["file_ids"]]
    return json_response(files.page_list(shown, params))


@router.get("/{thread_id}/messages/{message_id}/files/{file_id}")
async def get_message_file(
    thread_id: str, message_id: str, file_id: str, project: Project, conn: ReadConn
) -> Response:
    message = await messages.get(conn, project, thread_id, message_id)
    if file_id not in shapes.message(message)["file_ids"]:
        raise NotFoundError(f"No message file found with id '{file_id}'.")
    return json_response(shapes.message_file(file_id, message))
