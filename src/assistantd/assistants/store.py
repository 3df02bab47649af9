"""All SQL for assistants."""

from __future__ import annotations

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.assistants.schemas import Assistant
from assistantd.db import documents
from assistantd.db.tables import assistants
from assistantd.pagination import PageParams


async def insert(conn: AsyncConnection, project: str, assistant: Assistant) -> None:
    await documents.insert_doc(conn, assistants, project, assistant)


async def get(conn: AsyncConnection, project: str, assistant_id: str) -> Assistant | None:
    return await documents.get_doc(conn, assistants, project, assistant_id, Assistant)


async def update(conn: AsyncConnection, project: str, assistant: Assistant) -> None:
    await documents.update_doc(conn, assistants, project, assistant)


async def delete(conn: AsyncConnection, project: str, assistant_id: str) -> bool:
    return await documents.delete_doc(conn, assistants, project, assistant_id)


async def page(conn: AsyncConnection, project: str, params: PageParams) -> documents.RawPage:
    return await documents.page_raw(conn, assistants, project, params)


async def models_in_use(conn: AsyncConnection, project: str, scanned: int) -> list[str]:
    """The models the project's `scanned` newest assistants name, newest first, once each."""
    query = (
        select(assistants.c.body)
        .where(assistants.c.project == project)
        .order_by(assistants.c.id.desc())
        .limit(scanned)
    )
    names: list[str] = []
    for body in (await conn.execute(query)).scalars():
        try:
            model = orjson.loads(body).get("model")
        except (ValueError, AttributeError):
            continue
        if isinstance(model, str) and model not in names:
            names.append(model)
    return names
