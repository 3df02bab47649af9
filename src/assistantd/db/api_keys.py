"""The `api_keys` table's queries (keys are stored as SHA-256 hashes, never in clear)."""

from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from assistantd.db.tables import api_keys


async def count(conn: AsyncConnection) -> int:
    """How many keys the database holds (none, and no key in the environment: local mode)."""
    return int((await conn.execute(select(func.count()).select_from(api_keys))).scalar_one())


async def project_of(conn: AsyncConnection, key_hash: str) -> str | None:
    query = select(api_keys.c.project).where(api_keys.c.key_hash == key_hash)
    project: str | None = (await conn.execute(query)).scalar_one_or_none()
    return project


async def add(
    conn: AsyncConnection, key_hash: str, project: str, name: str | None, created_at: int
) -> None:
    await conn.execute(
        insert(api_keys).values(
            key_hash=key_hash, project=project, name=name, created_at=created_at
        )
    )
