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
    return await service.chat_completions(get_services(request).upstream, await request.body())


@router.post("/embeddings")
async def embeddings(request: Request, _project: Project) -> Response:
    return await service.embeddings(get_services(request).upstream, await request.body())
