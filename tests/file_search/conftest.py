"""Index fixtures: a migrated SQLite database always; PostgreSQL when
ASSISTANTD_TEST_DATABASE_URL is set (e.g. postgresql+asyncpg://postgres:postgres@127.0.0.1/x),
twice: with pgvector (required on CI, where scripts/services installs it) and with the BIT
VARYING fallback of a PostgreSQL without it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from assistantd.file_search.index import postgres
from assistantd.file_search.sqlite_extensions import install_sqlite_extensions
from tests.file_search.schema import recreate_schema

PG_URL = os.environ.get("ASSISTANTD_TEST_DATABASE_URL")


def _postgres(name: str) -> object:
    return pytest.param(
        name,
        id=name,
        marks=[
            pytest.mark.postgres,
            # CI sets the URL (scripts/services); there a missing one fails in the fixture.
            pytest.mark.skipif(
                not PG_URL and not os.environ.get("CI"),
                reason="ASSISTANTD_TEST_DATABASE_URL not set",
            ),
        ],
    )


BACKENDS = [pytest.param("sqlite", id="sqlite"), _postgres("postgresql"), _postgres("pg-bits")]


async def open_engine(backend: str, directory: Path) -> AsyncEngine:
    """A fresh index schema on `backend`; "postgresql" must have pgvector on CI."""
    if backend == "sqlite":
        engine = create_async_engine(f"sqlite+aiosqlite:///{directory / 'index.db'}")
        install_sqlite_extensions(engine)
        await recreate_schema(engine)
        return engine
    assert PG_URL is not None, "CI must run the PostgreSQL tests: set ASSISTANTD_TEST_DATABASE_URL"
    engine = create_async_engine(PG_URL)
    await recreate_schema(engine, pgvector=backend == "postgresql")
    async with engine.connect() as conn:
        path = await postgres.vector_path(conn)
    if backend == "pg-bits":
        assert path == "bits"
    elif path != "pgvector":
        await engine.dispose()
        if os.environ.get("CI"):
            pytest.fail("CI must test pgvector: the vector extension is not available")
        pytest.skip("pgvector is not installed (scripts/services installs it as root)")
    return engine


@pytest.fixture(params=BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = await open_engine(request.param, tmp_path)
    try:
        yield engine
    finally:
        await engine.dispose()
