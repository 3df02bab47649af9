"""All SQL for runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db import documents
from assistantd.db.tables import runs
from assistantd.pagination import PageParams
from assistantd.runs.schemas import Run
from assistantd.runs.state import EXPIRABLE


async def insert(conn: AsyncConnection, project: str, run: Run) -> None:
    await documents.insert_doc(
        conn,
        runs,
        project,
        run,
        thread_id=run.thread_id,
        status=run.status,
        expires_at=run.expires_at,
    )


async def get(conn: AsyncConnection, project: str, thread_id: str, run_id: str) -> Run | None:
    return await documents.get_doc(conn, runs, project, run_id, Run, thread_id=thread_id)


async def get_by_id(conn: AsyncConnection, run_id: str) -> tuple[str, Run] | None:
    """(project, run) for the executor, which works on behalf of the run's project."""
    rows = await documents.select_rows(conn, runs, ("project", "body"), id=run_id)
    if not rows:
        return None
    project, body = rows[0]
    run = documents.load(Run, body, run_id)
    return None if run is None else (project, run)


async def save(conn: AsyncConnection, project: str, run: Run) -> None:
    await documents.update_doc(
        conn, runs, project, run, status=run.status, expires_at=run.expires_at
    )


async def page(
    conn: AsyncConnection, project: str, thread_id: str, params: PageParams
) -> documents.RawPage:
    return await documents.page_raw(conn, runs, project, params, thread_id=thread_id)


async def ids_with_status(conn: AsyncConnection, statuses: Sequence[str]) -> list[str]:
    query = select(runs.c.id).where(runs.c.status.in_(statuses))
    return list((await conn.execute(query)).scalars())


async def expired_ids(conn: AsyncConnection, now: int) -> list[str]:
    """Live runs whose `expires_at` has passed."""
    query = select(runs.c.id).where(runs.c.status.in_(EXPIRABLE), runs.c.expires_at < now)
    return list((await conn.execute(query)).scalars())


async def patch(
    conn: AsyncConnection,
    run_id: str,
    changes: dict[str, Any],
    *,
    expected_status: str | None = None,
    read: Run | None = None,
) -> Run | None:
    """Compare-and-set: set only `changes` (e.g. `documents.changed(old, new)`), and only if
    the stored status is still `expected_status` (when given). Returns the stored run (with
    what others wrote meanwhile, such as metadata), or None if nothing was written. `read`:
    the run as the caller last read or wrote it (one statement while it is still stored so:
    `documents.patch_doc`)."""
    expect = {"status": expected_status} if expected_status is not None else None
    return await documents.patch_doc(
        conn,
        runs,
        run_id,
        Run,
        changes,
        expect=expect,
        read=read,
        status=lambda run: run.status,
        expires_at=lambda run: run.expires_at,
    )


async def bodies_of_project(conn: AsyncConnection, project: str, limit: int) -> list[Run]:
    """The project's newest runs (for the console's usage chart)."""
    query = (
        select(runs.c.body).where(runs.c.project == project).order_by(runs.c.id.desc()).limit(limit)
    )
    return [Run.model_validate_json(row.body) for row in await conn.execute(query)]
