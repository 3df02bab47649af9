"""All SQL for responses."""

from __future__ import annotations

from pydantic import TypeAdapter
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db import documents
from assistantd.db.tables import responses
from assistantd.items.schemas import Item
from assistantd.responses_api.schemas import Response

_ITEMS: TypeAdapter[list[Item]] = TypeAdapter(list[Item])


async def insert(
    conn: AsyncConnection, project: str, response: Response, inputs: list[Item]
) -> None:
    await documents.insert_doc(
        conn,
        responses,
        project,
        response,
        status=response.status,
        input=_ITEMS.dump_json(inputs).decode(),
    )


async def update(conn: AsyncConnection, project: str, response: Response) -> None:
    await documents.update_doc(conn, responses, project, response, status=response.status)


async def get(conn: AsyncConnection, project: str, response_id: str) -> Response | None:
    return await documents.get_doc(conn, responses, project, response_id, Response)


async def get_by_id(conn: AsyncConnection, response_id: str) -> tuple[str, Response] | None:
    """(project, response), for the node that takes a response over (it has no request)."""
    query = select(responses.c.project, responses.c.body).where(responses.c.id == response_id)
    row = (await conn.execute(query)).first()
    return None if row is None else (row.project, Response.model_validate_json(row.body))


async def get_input(conn: AsyncConnection, project: str, response_id: str) -> list[Item] | None:
    query = select(responses.c.input).where(
        responses.c.id == response_id, responses.c.project == project
    )
    raw = (await conn.execute(query)).scalar_one_or_none()
    return None if raw is None else _ITEMS.validate_json(raw)


async def delete(conn: AsyncConnection, project: str, response_id: str) -> bool:
    return await documents.delete_doc(conn, responses, project, response_id)


async def unfinished(conn: AsyncConnection) -> list[tuple[str, Response]]:
    """(project, response) of every response still queued or in progress."""
    query = select(responses.c.project, responses.c.body).where(
        responses.c.status.in_(("queued", "in_progress"))
    )
    rows = (await conn.execute(query)).all()
    return [(row.project, Response.model_validate_json(row.body)) for row in rows]
