"""Index fixtures: a migrated SQLite database always; PostgreSQL when
ASSISTANTD_TEST_DATABASE_URL is set (e.g. postgresql+asyncpg://postgres:postgres@127.0.0.1/x)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from assistantd.vector_stores.sqlite_extensions import install_sqlite_extensions
from tests.file_search.schema import recreate_schema

PG_URL = os.environ.get("ASSISTANTD_TEST_DATABASE_URL")

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=[
            pytest.mark.postgres,
            # CI sets the URL (scripts/services); there a missing one fails in the fixture.
            pytest.mark.skipif(
                not PG_URL and not os.environ.get("CI"),
                reason="ASSISTANTD_TEST_DATABASE_URL not set",
            ),
        ],
    ),
]


@pytest.fixture(params=BACKENDS)
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'index.db'}")
        install_sqlite_extensions(engine)
    else:
        assert PG_URL is not None
        engine = create_async_engine(PG_URL)
    await recreate_schema(engine)
    try:
        yield engine
    finally:
        await engine.dispose()
