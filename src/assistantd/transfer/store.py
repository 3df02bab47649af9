"""All SQL of import and export: which ids exist (and in which project), inserts with an
explicit sort key, whole-project reads in creation order."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db import documents
from assistantd.db.documents import Document
from assistantd.db.tables import (
    assistants,
    files,
    messages,
    run_steps,
    runs,
    threads,
    vector_store_files,
    vector_stores,
)
from assistantd.files.schemas import FileObject

TABLES: dict[str, Table] = {
    "assistants": assistants,
    "threads": threads,
    "messages": messages,
    "runs": runs,
    "run_steps": run_steps,
    "files": files,
    "vector_stores": vector_stores,
}


async def owners(conn: AsyncConnection, table: Table, object_ids: list[str]) -> dict[str, str]:
    """id -> project of those of `object_ids` that exist in `table` (in any project)."""
    found: dict[str, str] = {}
    for start in range(0, len(object_ids), 500):
        chunk = object_ids[start : start + 500]
        query = select(table.c.id, table.c.project).where(table.c.id.in_(chunk))
        found.update({row.id: row.project for row in await conn.execute(query)})
    return found


async def insert(
    conn: AsyncConnection, table: Table, project: str, obj: Document, ord_: str, **columns: Any
) -> None:
    await documents.insert_doc(conn, table, project, obj, ord=ord_, **columns)


async def bodies(conn: AsyncConnection, table: Table, project: str, **filters: str) -> list[str]:
    """Every stored body of `project` in `table` matching `filters`, oldest first."""
    query = select(table.c.body).where(
        table.c.project == project, *(table.c[name] == value for name, value in filters.items())
    )
    order = table.c.ord if "ord" in table.c else table.c.id
    return list((await conn.execute(query.order_by(order))).scalars())


async def store_file_bodies(conn: AsyncConnection, project: str, store_id: str) -> list[str]:
    """The files of a vector store, by file id."""
    table = vector_store_files
    query = select(table.c.body).where(
        table.c.project == project, table.c.vector_store_id == store_id
    )
    return list((await conn.execute(query.order_by(table.c.id))).scalars())


async def save_file(conn: AsyncConnection, project: str, file: FileObject) -> None:
    await conn.execute(
        update(files)
        .where(files.c.id == file.id, files.c.project == project)
        .values(body=file.model_dump_json())
    )
