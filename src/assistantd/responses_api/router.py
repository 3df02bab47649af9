"""HTTP routes for /responses."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response as HTTPResponse
from starlette.responses import StreamingResponse

from assistantd.auth import Project
from assistantd.body import json_body
from assistantd.db.deps import ReadConn, WriteConn
from assistantd.errors import InvalidRequestError
from assistantd.pagination import PageParams, page_params
from assistantd.responses import ObjectResponse
from assistantd.responses_api import service
from assistantd.responses_api.code import CodeInterpreter
from assistantd.responses_api.file_search import FileSearch
from assistantd.responses_api.schemas import CreateResponseRequest, InputTokensRequest

router = APIRouter(prefix="/responses", tags=["responses"])

# `include[]` asks for extra output fields; those of the items we make are always present.
Include = Annotated[list[str] | None, Query(alias="include")]


@router.post("")
async def create_response(
    request: Request,
    body: Annotated[CreateResponseRequest, json_body(CreateResponseRequest)],
    project: Project,
) -> HTTPResponse:
    state = request.app.state
    generation = await service.prepare(state.db, project, body, sandbox=state.sandbox is not None)
    tools = service.ServerTools(
        FileSearch(state.db, state.ingestor.embedder),
        CodeInterpreter(state.db, state.sandbox, state.blobs, state.settings),
    )
    if not body.stream:
        task = service.spawn(service.generate(generation, state.upstream, state.db, tools))
        return ObjectResponse(await asyncio.shield(task))  # a hang-up does not stop it
    queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
    task = service.spawn(
        service.generate(generation, state.upstream, state.db, tools, queue.put_nowait)
    )
    task.add_done_callback(lambda _task: queue.put_nowait(None))
    return StreamingResponse(
        _frames(queue), media_type="text/event-stream", headers={"cache-control": "no-cache"}
    )


async def _frames(queue: asyncio.Queue[dict[str, Any] | None]) -> AsyncIterator[bytes]:
    while (event := await queue.get()) is not None:
        yield b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


@router.post("/input_tokens")
async def count_input_tokens(
    body: Annotated[InputTokensRequest, json_body(InputTokensRequest)],
    project: Project,
    conn: ReadConn,
) -> ObjectResponse:
    return ObjectResponse(await service.input_tokens(conn, project, body))


@router.get("/{response_id}")
async def get_response(
    response_id: str,
    project: Project,
    conn: ReadConn,
    _include: Include = None,
    stream: Annotated[bool, Query()] = False,
) -> ObjectResponse:
    if stream:
        raise InvalidRequestError(
            "Only background responses can be streamed again; background mode is not "
            "supported by this server yet.",
            param="stream",
            code="unsupported_parameter",
        )
    return ObjectResponse(await service.get(conn, project, response_id))


@router.delete("/{response_id}")
async def delete_response(response_id: str, project: Project, conn: WriteConn) -> ObjectResponse:
    return ObjectResponse(await service.delete(conn, project, response_id))


@router.post("/{response_id}/cancel")
async def cancel_response(response_id: str, project: Project, conn: ReadConn) -> ObjectResponse:
    return ObjectResponse(await service.cancel(conn, project, response_id))


@router.get("/{response_id}/input_items")
async def list_input_items(
    response_id: str,
    params: Annotated[PageParams, Depends(page_params)],
    project: Project,
    conn: ReadConn,
    _include: Include = None,
) -> ObjectResponse:
    return ObjectResponse(await service.input_items(conn, project, response_id, params))
