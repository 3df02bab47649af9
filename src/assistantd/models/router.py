"""HTTP routes for /models (OpenAI's listModels and retrieveModel)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from assistantd.auth import Project
from assistantd.db.deps import ReadConn, TransactionRoute
from assistantd.responses import ObjectResponse
from assistantd.services import get_services

router = APIRouter(prefix="/models", tags=["models"], route_class=TransactionRoute)


@router.get("")
async def list_models(request: Request, project: Project, conn: ReadConn) -> ObjectResponse:
    return ObjectResponse(await get_services(request).models.catalogue(conn, project))


@router.get("/{model_id:path}")
async def get_model(
    model_id: str, request: Request, project: Project, conn: ReadConn
) -> ObjectResponse:
    return ObjectResponse(await get_services(request).models.get(conn, project, model_id))
