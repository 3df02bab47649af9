"""Builds the file-search index schema on a fresh database by running migration 0100's upgrade.

Until the foundation's alembic chain is merged, tests apply this one revision on its own
through alembic's Operations API, so they exercise exactly the DDL that ships.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATION = (
    Path(__file__).resolve().parents[2] / "migrations" / "versions" / "0100_vector_store_index.py"
)


def _migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("migration_0100", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(sync_conn: Connection, step: str) -> None:
    with Operations.context(MigrationContext.configure(sync_conn)):
        getattr(_migration(), step)()


async def recreate_schema(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.run_sync(_run, "downgrade")
        await conn.run_sync(_run, "upgrade")
