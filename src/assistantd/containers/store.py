"""All SQL for containers and their files."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd import ids
from assistantd.containers.schemas import Container, ContainerFile
from assistantd.db import documents
from assistantd.db.tables import container_files, containers
from assistantd.pagination import PageParams


async def insert(conn: AsyncConnection, project: str, container: Container) -> None:
    await documents.insert_doc(conn, containers, project, container)


async def get(conn: AsyncConnection, project: str, container_id: str) -> Container | None:
    return await documents.get_doc(conn, containers, project, container_id, Container)


async def update(conn: AsyncConnection, project: str, container: Container) -> None:
    await documents.update_doc(conn, containers, project, container)


async def delete(conn: AsyncConnection, project: str, container_id: str) -> bool:
    return await documents.delete_doc(conn, containers, project, container_id)


async def page(conn: AsyncConnection, project: str, params: PageParams) -> documents.RawPage:
    return await documents.page_raw(conn, containers, project, params)


async def running(conn: AsyncConnection) -> list[tuple[str, Container]]:
    """(project, container) of every container not yet marked expired, of all projects (for
    the expiry sweep; containers are few: each is a live sandbox)."""
    rows = await conn.execute(select(containers.c.project, containers.c.body))
    found = [(project, Container.model_validate_json(body)) for project, body in rows]
    return [(project, c) for project, c in found if c.status == "running"]


async def insert_file(conn: AsyncConnection, project: str, file: ContainerFile) -> None:
    await documents.insert_doc(
        conn,
        container_files,
        project,
        file,
        container_id=file.container_id,
        path=file.path,
        ord=ids.new_id(""),
    )


async def get_file(
    conn: AsyncConnection, project: str, container_id: str, file_id: str
) -> ContainerFile | None:
    return await documents.get_doc(
        conn, container_files, project, file_id, ContainerFile, container_id=container_id
    )


async def file_at(
    conn: AsyncConnection, project: str, container_id: str, path: str
) -> ContainerFile | None:
    query = select(container_files.c.body).where(
        container_files.c.project == project,
        container_files.c.container_id == container_id,
        container_files.c.path == path,
    )
    body = (await conn.execute(query.limit(1))).scalar_one_or_none()
    return None if body is None else ContainerFile.model_validate_json(body)


async def replace_file(conn: AsyncConnection, project: str, file: ContainerFile) -> None:
    await documents.update_doc(conn, container_files, project, file)


async def delete_file(conn: AsyncConnection, project: str, container_id: str, file_id: str) -> bool:
    return await documents.delete_doc(
        conn, container_files, project, file_id, container_id=container_id
    )


async def page_files(
    conn: AsyncConnection, project: str, container_id: str, params: PageParams
) -> documents.RawPage:
    return await documents.page_raw(
        conn, container_files, project, params, container_id=container_id
    )
