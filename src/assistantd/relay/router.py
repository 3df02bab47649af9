"""HTTP routes relayed to the upstream: chat completions (streaming too) and embeddings."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from assistantd.auth import Project
from assistantd.relay import service
from assistantd.services import get_services

router = APIRouter(tags=["relay"])


@router.post("/chat/completions")
async def chat_completions(request: Request, _project: Project) -> Response:
    raw = await request.body()
    body = service.parse_body(raw, ("messages",))
    stream = body.get("stream") is True
    return await service.relay(
        get_services(request).upstream, "/chat/completions", raw, stream=stream
    )


@router.post("/embeddings")
async def embeddings(request: Request, _project: Project) -> Response:
    raw = await request.body()
    service.parse_body(raw, ("input",))
    return await service.relay(get_services(request).upstream, "/embeddings", raw, stream=False)
