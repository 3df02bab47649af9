"""Alembic environment: runs migrations on the async engine given by `sqlalchemy.url`."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from assistantd.db.engine import ensure_sqlite_dir
from assistantd.db.tables import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # Tables made by hand-written migrations (the file-search index) are not in the
        # metadata; autogenerate must not try to drop them.
        include_object=lambda obj, name, kind, reflected, compare_to: (
            not (kind == "table" and reflected and compare_to is None)
        ),
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Nodes starting together on one database migrate one after the other (the lock
            # ends with the transaction; the next one then finds the schema up to date).
            connection.execute(text("SELECT pg_advisory_xact_lock(2315100412)"))
        context.run_migrations()


async def _run_async() -> None:
    url = config.get_main_option("sqlalchemy.url") or ""
    ensure_sqlite_dir(url)
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported")
asyncio.run(_run_async())
