"""HTTP routes for /threads (the thread itself; messages and runs have their own routers)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from assistantd.auth import Project
from assistantd.db.deps import ReadConn, WriteConn
from assistantd.responses import ObjectResponse
from assistantd.threads import service
from assistantd.threads.schemas import CreateThreadRequest, ModifyThreadRequest

router = APIRouter(prefix="/threads", tags=["threads"])


@router.post("")
async def create_thread(
    project: Project, conn: WriteConn, body: CreateThreadRequest | None = None
) -> ObjectResponse:
    return ObjectResponse(await service.create(conn, project, body or CreateThreadRequest()))


@router.get("/{thread_id}")
async def get_thread(thread_id: str, project: Project, conn: ReadConn) -> ObjectResponse:
    return ObjectResponse(await service.get(conn, project, thread_id))


@router.post("/{thread_id}")
async def modify_thread(
    thread_id: str, body: ModifyThreadRequest, project: Project, conn: WriteConn
) -> ObjectResponse:
    return ObjectResponse(await service.modify(conn, project, thread_id, body))


@router.delete("/{thread_id}")
async def delete_thread(
    thread_id: str, request: Request, project: Project, conn: WriteConn
) -> ObjectResponse:
    deleted = await service.delete(conn, project, thread_id)
    sandbox = request.app.state.sandbox
    if sandbox is not None:  # the thread's code-interpreter session and files go with it
        await sandbox.close_session(thread_id, delete_files=True)
    return ObjectResponse(deleted)
