"""Reading run steps (they are written by the executor only)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.errors import NotFoundError
from assistantd.pagination import PageParams
from assistantd.run_steps import store
from assistantd.run_steps.schemas import RunStep
from assistantd.runs import service as runs
from assistantd.schemas import Page


async def get(
    conn: AsyncConnection, project: str, thread_id: str, run_id: str, step_id: str
) -> RunStep:
    step = await store.get(conn, project, thread_id, run_id, step_id)
    if step is None:
        await runs.get(conn, project, thread_id, run_id)
        raise NotFoundError.for_id("run step", step_id)
    return step


async def page(
    conn: AsyncConnection, project: str, thread_id: str, run_id: str, params: PageParams
) -> Page[RunStep]:
    await runs.get(conn, project, thread_id, run_id)
    return await store.page(conn, project, run_id, params)
