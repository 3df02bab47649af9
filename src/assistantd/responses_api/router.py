"""HTTP routes for /responses."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response as HTTPResponse
from starlette.responses import StreamingResponse

from assistantd.auth import Project
from assistantd.body import json_body
from assistantd.db.deps import ReadConn, TransactionRoute, WriteConn
from assistantd.errors import InvalidRequestError
from assistantd.items import include as shown
from assistantd.items.include import Include
from assistantd.pagination import PageParams, page_params
from assistantd.responses import ObjectResponse
from assistantd.responses_api import background, events, generate, service
from assistantd.responses_api.code import CodeInterpreter
from assistantd.responses_api.file_search import FileSearch
from assistantd.responses_api.schemas import (
    CreateResponseRequest,
    InputTokensRequest,
    Response,
)
from assistantd.services import get_services

router = APIRouter(prefix="/responses", tags=["responses"], route_class=TransactionRoute)

REQUEST_WAIT_S = 0.25  # at most, before a stream starts (see `_requested`)


@router.post("")
async def create_response(
    request: Request,
    body: Annotated[CreateResponseRequest, json_body(CreateResponseRequest)],
    project: Project,
) -> HTTPResponse:
    state = get_services(request)
    include = shown.check(body.include)
    generation = await service.prepare(
        state.db,
        state.blobs,
        project,
        body,
        sandbox=state.sandbox is not None,
        # A stream's first token need not wait for the row: generate() writes it meanwhile.
        insert_later=bool(body.stream) and not body.background,
        context_windows=state.settings.context_windows,
        durable=background.durable(),
    )
    tools = generate.ServerTools(
        FileSearch(state.db, state.file_search),
        CodeInterpreter(state.db, state.sandbox, state.manifests, state.settings),
    )
    response = generation.response
    log = events.open_log(response.id) if body.stream or body.background else None
    emit = log.append if log is not None else None
    shared = background.durable()
    publish = shared.open_stream(response.id) if shared and body.background else None
    if log is not None and publish is not None:  # other nodes can stream it too
        local = log.append

        def emit(event: dict[str, Any]) -> None:
            local(event)
            publish(event)

    work = generate.generate(generation, state.upstream, state.db, tools, emit)
    task = background.spawn(response, work)
    if log is not None and body.stream:
        await _requested(generation, task)
        return _stream(log, include)
    if body.background:
        return ObjectResponse(response)  # queued: poll it, or stream it with starting_after
    done = await asyncio.shield(task)  # a hang-up does not stop it
    return ObjectResponse(_shown(done, include))


async def _requested(generation: generate.Generation, task: asyncio.Task[Response]) -> None:
    """Until the model server took the request (or the generation ended, or `REQUEST_WAIT_S`
    passed): the stream starts then. Started at once, its headers and first events
    (`response.created`, `.in_progress`) went out while the request was being sent, each send a
    turn of the loop ahead of the request's, and the client's parsing of them competed with
    the model server for a core; now they go out while the model thinks. The events are the
    same; a model server that holds its headers back delays them by at most the bound."""
    if task.done():
        return
    task.add_done_callback(lambda _task: generation.requested.set())
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(REQUEST_WAIT_S):
            await generation.requested.wait()


def _shown(response: Response, include: frozenset[str]) -> Response:
    output = shown.items(response.output, include)
    return response.model_copy(update={"output": output}) if output != response.output else response


def _stream(
    log: events.EventLog | AsyncIterator[dict[str, Any]],
    include: frozenset[str],
    after: int = -1,
) -> StreamingResponse:
    """The events of this process's log (those there at once in one write), or those another
    node publishes (`follow`)."""

    async def frames() -> AsyncIterator[bytes]:
        if isinstance(log, events.EventLog):
            async for batch in log.batches(after):
                yield b"".join(events.frame(shown.event_json(event, include)) for event in batch)
        else:
            async for event in log:
                yield events.frame(shown.event_json(event, include))

    return StreamingResponse(
        frames(), media_type="text/event-stream", headers={"cache-control": "no-cache"}
    )


@router.post("/input_tokens")
async def count_input_tokens(
    request: Request,
    body: Annotated[InputTokensRequest, json_body(InputTokensRequest)],
    project: Project,
    conn: ReadConn,
) -> ObjectResponse:
    blobs = get_services(request).blobs
    return ObjectResponse(await service.input_tokens(conn, blobs, project, body))


@router.get("/{response_id}")
async def get_response(
    response_id: str,
    project: Project,
    conn: ReadConn,
    include: Include,
    stream: Annotated[bool, Query()] = False,
    starting_after: Annotated[int | None, Query()] = None,
    _include_obfuscation: Annotated[bool | None, Query(alias="include_obfuscation")] = None,
) -> HTTPResponse:
    response = await service.get(conn, project, response_id)
    if not stream:
        return ObjectResponse(_shown(response, include))
    if not response.background:
        raise InvalidRequestError(
            "Only responses created with background=true can be streamed again.",
            param="stream",
        )
    after = -1 if starting_after is None else starting_after
    log = events.find(response_id)
    shared = background.durable()
    if log is None and shared is not None and shared.shared_events:
        return _stream(shared.follow(project, response_id, after), include)
    if log is None:
        raise InvalidRequestError(
            "The events of this response are no longer available on this server.",
            param="stream",
        )
    return _stream(log, include, after)


@router.delete("/{response_id}")
async def delete_response(response_id: str, project: Project, conn: WriteConn) -> ObjectResponse:
    return ObjectResponse(await service.delete(conn, project, response_id))


@router.post("/{response_id}/cancel")
async def cancel_response(response_id: str, request: Request, project: Project) -> ObjectResponse:
    return ObjectResponse(await background.cancel(get_services(request).db, project, response_id))


@router.get("/{response_id}/input_items")
async def list_input_items(
    response_id: str,
    params: Annotated[PageParams, Depends(page_params)],
    project: Project,
    conn: ReadConn,
    include: Include,
) -> ObjectResponse:
    page = await service.input_items(conn, project, response_id, params)
    return ObjectResponse(page.model_copy(update={"data": shown.items(page.data, include)}))
