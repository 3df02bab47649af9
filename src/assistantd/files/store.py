"""All SQL for files."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db import documents
from assistantd.db.tables import files
from assistantd.files.schemas import FileObject
from assistantd.pagination import PageParams


async def insert(conn: AsyncConnection, project: str, file: FileObject, blob_key: str) -> None:
    await documents.insert_doc(
        conn,
        files,
        project,
        file,
        purpose=file.purpose,
        blob_key=blob_key,
        expires_at=file.expires_at,
    )


async def get(conn: AsyncConnection, project: str, file_id: str) -> FileObject | None:
    return await documents.get_doc(conn, files, project, file_id, FileObject)


async def get_many(conn: AsyncConnection, project: str, file_ids: list[str]) -> list[FileObject]:
    if not file_ids:
        return []
    query = select(files.c.body).where(files.c.project == project, files.c.id.in_(file_ids))
    return documents.load_all(FileObject, (await conn.execute(query)).scalars().all(), "files")


async def missing_ids(conn: AsyncConnection, project: str, file_ids: list[str]) -> list[str]:
    """The ids among `file_ids` that name no file of `project`, in the order given."""
    if not file_ids:
        return []
    query = select(files.c.id).where(files.c.project == project, files.c.id.in_(file_ids))
    found = set((await conn.execute(query)).scalars())
    return [file_id for file_id in file_ids if file_id not in found]


async def blob_key(conn: AsyncConnection, project: str, file_id: str) -> str | None:
    query = select(files.c.blob_key).where(files.c.id == file_id, files.c.project == project)
    return (await conn.execute(query)).scalar_one_or_none()


async def expired(conn: AsyncConnection, now: int) -> list[tuple[str, str]]:
    """(project, id) of the files whose `expires_at` has passed."""
    query = select(files.c.project, files.c.id).where(files.c.expires_at <= now)
    return [(row.project, row.id) for row in await conn.execute(query)]


async def delete(conn: AsyncConnection, project: str, file_id: str) -> bool:
    return await documents.delete_doc(conn, files, project, file_id)


async def page(
    conn: AsyncConnection, project: str, params: PageParams, purpose: str | None
) -> documents.RawPage:
    filters = {"purpose": purpose} if purpose else {}
    return await documents.page_raw(conn, files, project, params, **filters)
