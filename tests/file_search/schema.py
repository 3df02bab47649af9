"""Builds the file-search index schema on a fresh database by running the upgrades of
migrations 0100 (the index tables), 0102 (pgvector on PostgreSQL, when it can be had), 0103
(store generations), 0430 (keyword postings on PostgreSQL), 0440 (on SQLite) and 0450 (HNSW
indexes on halfvec).

Tests apply these revisions on their own through alembic's Operations API, so they exercise
exactly the DDL that ships without the rest of the chain. `pgvector=False` leaves 0102 out:
the schema of a PostgreSQL without pgvector, where the index uses its BIT VARYING fallback.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

VERSIONS = Path(__file__).resolve().parents[2] / "migrations" / "versions"
INDEX, PGVECTOR = "0100_vector_store_index", "0102_pgvector"
GENERATION = "0103_index_generation"
POSTINGS = "0430_keyword_postings"
SQLITE_POSTINGS = "0440_sqlite_keyword_postings"
HALFVEC = "0450_pgvector_halfvec_index"


def _migration(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"migration_{name}", VERSIONS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(sync_conn: Connection, names: list[str], step: str) -> None:
    with Operations.context(MigrationContext.configure(sync_conn)):
        for name in names:
            getattr(_migration(name), step)()


async def recreate_schema(engine: AsyncEngine, *, pgvector: bool = True) -> None:
    async with engine.begin() as conn:
        downgrades = [HALFVEC, SQLITE_POSTINGS, POSTINGS, PGVECTOR, INDEX]
        await conn.run_sync(_run, downgrades, "downgrade")
        upgrades = [INDEX, PGVECTOR] if pgvector else [INDEX]
        await conn.run_sync(
            _run, [*upgrades, GENERATION, POSTINGS, SQLITE_POSTINGS, HALFVEC], "upgrade"
        )
