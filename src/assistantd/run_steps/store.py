"""All SQL for run steps."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db import documents
from assistantd.db.tables import run_steps, runs
from assistantd.pagination import PageParams
from assistantd.run_steps.schemas import RunStep
from assistantd.schemas import Page


async def upsert(conn: AsyncConnection, project: str, step: RunStep) -> None:
    """Insert or replace (the executor saves a step as it changes)."""
    await documents.upsert_doc(
        conn, run_steps, project, step, thread_id=step.thread_id, run_id=step.run_id
    )


async def patch(
    conn: AsyncConnection,
    step_id: str,
    changes: dict[str, Any],
    *,
    expect: dict[str, Any] | None = None,
    read: RunStep | None = None,
) -> RunStep | None:
    """Set only `changes`, if the stored step still holds `expect` (documents.patch_doc)."""
    return await documents.patch_doc(
        conn, run_steps, step_id, RunStep, changes, expect=expect, read=read
    )


async def run_exists(conn: AsyncConnection, project: str, thread_id: str, run_id: str) -> bool:
    """Whether the run that steps are asked of is there (the steps' parent, read here so the
    run steps need nothing of the runs package above them)."""
    query = select(runs.c.id).where(
        runs.c.id == run_id, runs.c.project == project, runs.c.thread_id == thread_id
    )
    return (await conn.execute(query)).first() is not None


async def get(
    conn: AsyncConnection, project: str, thread_id: str, run_id: str, step_id: str
) -> RunStep | None:
    return await documents.get_doc(
        conn,
        run_steps,
        project,
        step_id,
        RunStep,
        run_id=run_id,
        thread_id=thread_id,
    )


async def page(
    conn: AsyncConnection, project: str, run_id: str, params: PageParams
) -> Page[RunStep]:
    return await documents.page_docs(conn, run_steps, project, params, RunStep, run_id=run_id)


async def for_run(conn: AsyncConnection, run_id: str) -> list[RunStep]:
    query = select(run_steps.c.body).where(run_steps.c.run_id == run_id).order_by(run_steps.c.ord)
    return documents.load_all(RunStep, (await conn.execute(query)).scalars().all(), run_id)


async def rows_of_thread(conn: AsyncConnection, thread_id: str) -> list[tuple[str, str]]:
    """(sort key, stored body) of every step of the thread, oldest first (`tool_steps`)."""
    rows = await documents.select_rows(
        conn, run_steps, ("ord", "body"), order_by="ord", thread_id=thread_id
    )
    return [(ord_, body) for ord_, body in rows]


def tool_steps(
    rows: list[tuple[str, str]], thread_id: str, keys: dict[str, str] | None = None
) -> list[RunStep]:
    """The tool steps of `rows_of_thread`, oldest first (the transcript replays the tool
    calls); `keys` (if given) gets each one's sort key."""
    steps = []
    for ord_, body in rows:
        step = documents.load(RunStep, body, thread_id)
        if step is not None and step.type == "tool_calls":
            if keys is not None:
                keys[step.id] = ord_
            steps.append(step)
    return steps
