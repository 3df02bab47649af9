"""Queries shared by the document tables (id, project, body, plus indexed columns).

Stores call these with their table and schema class; they are the only place the paging and
project-scoping SQL is written. Objects go in and come out as API schemas.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, Table, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.pagination import PageParams
from assistantd.schemas import Page

M = TypeVar("M", bound=BaseModel)


@functools.cache
def _page_class(model: type[M]) -> type[Page[M]]:
    """Page[model], made once: pydantic's own generic lookup costs ~0.3 ms a call."""
    return Page[model]  # type: ignore[valid-type]


async def insert_doc(
    conn: AsyncConnection, table: Table, project: str, obj: BaseModel, **columns: Any
) -> None:
    body = obj.model_dump_json()
    await conn.execute(
        insert(table).values(id=obj.id, project=project, body=body, **columns)  # type: ignore[attr-defined]
    )


@functools.cache
def _get_statement(table: Table) -> Select[tuple[str]]:
    """Built once per table: making SQLAlchemy expressions costs more than running the query."""
    return select(table.c.body).where(
        table.c.id == bindparam("object_id"), table.c.project == bindparam("project")
    )


async def get_doc(
    conn: AsyncConnection,
    table: Table,
    project: str,
    object_id: str,
    model: type[M],
    *where: ColumnElement[bool],
) -> M | None:
    query = _get_statement(table).where(*where) if where else _get_statement(table)
    params = {"object_id": object_id, "project": project}
    body = (await conn.execute(query, params)).scalar_one_or_none()
    return None if body is None else model.model_validate_json(body)


async def update_doc(
    conn: AsyncConnection, table: Table, project: str, obj: BaseModel, **columns: Any
) -> bool:
    """Replace the stored object; False if there was none."""
    query = (
        update(table)
        .where(table.c.id == obj.id, table.c.project == project)  # type: ignore[attr-defined]
        .values(body=obj.model_dump_json(), **columns)
    )
    return bool((await conn.execute(query)).rowcount)


async def delete_doc(conn: AsyncConnection, table: Table, project: str, object_id: str) -> bool:
    query = delete(table).where(table.c.id == object_id, table.c.project == project)
    return bool((await conn.execute(query)).rowcount)


async def page_docs(
    conn: AsyncConnection,
    table: Table,
    project: str,
    params: PageParams,
    model: type[M],
    *where: ColumnElement[bool],
) -> Page[M]:
    """One page of `table` rows of `project` matching `where`, ordered and cut by id."""
    ascending = params.order == "asc"
    query = select(table.c.id, table.c.body).where(table.c.project == project, *where)
    if params.after:
        query = query.where(table.c.id > params.after if ascending else table.c.id < params.after)
    if params.before:
        query = query.where(table.c.id < params.before if ascending else table.c.id > params.before)
    # With only `before`, the page is the `limit` objects nearest to the cursor.
    backwards = params.before is not None and params.after is None
    forward_order = table.c.id.asc() if ascending else table.c.id.desc()
    reverse_order = table.c.id.desc() if ascending else table.c.id.asc()
    query = query.order_by(reverse_order if backwards else forward_order).limit(params.limit + 1)
    rows: Sequence[Any] = (await conn.execute(query)).all()
    has_more = len(rows) > params.limit
    rows = rows[: params.limit]
    if backwards:
        rows = list(reversed(rows))
    data = [model.model_validate_json(row.body) for row in rows]
    return _page_class(model)(
        data=data,
        first_id=rows[0].id if rows else None,
        last_id=rows[-1].id if rows else None,
        has_more=has_more,
    )
