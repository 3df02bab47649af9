"""Index fixtures: a migrated SQLite database always; PostgreSQL when
ASSISTANTD_TEST_DATABASE_URL is set (e.g. postgresql+asyncpg://postgres:postgres@127.0.0.1/x),
twice: with pgvector (required on CI, where scripts/services installs it) and with the BIT
VARYING fallback of a PostgreSQL without it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import pytest
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from assistantd.file_search.chunking import Chunk
from assistantd.file_search.engine import FileSearchEngine
from assistantd.file_search.index import ChunkIndex, postgres
from assistantd.file_search.index.rows import chunk_rows
from assistantd.file_search.sqlite_extensions import install_sqlite_extensions
from tests.file_search.schema import recreate_schema
from tests.support.embedders import HashingEmbedder
from tests.support.server import fresh_postgres_database

PG_URL = os.environ.get("ASSISTANTD_TEST_DATABASE_URL")
# The index tests' own database, made once per session (below): the schema is dropped and made
# again per test, so two sessions on one PostgreSQL server must never share a database.
_session_pg_url: str | None = None


@pytest.fixture(scope="session", autouse=True)
def _own_postgres_database() -> Iterator[None]:
    global _session_pg_url
    if not PG_URL:
        yield
        return
    with fresh_postgres_database(PG_URL) as url:
        _session_pg_url = url
        yield
        _session_pg_url = None


_ENGINES: WeakKeyDictionary[Engine, FileSearchEngine] = WeakKeyDictionary()


def file_search(engine: AsyncEngine) -> FileSearchEngine:
    """The file search of `engine`'s database, one per engine as the server has one per process
    (its index and writer keep state between calls); `close_file_search` ends it."""
    found = _ENGINES.get(engine.sync_engine)
    if found is None:
        found = _ENGINES[engine.sync_engine] = FileSearchEngine(engine, HashingEmbedder())
    return found


def index_of(conn: AsyncConnection) -> ChunkIndex:
    """The chunk index of the database `conn` is on."""
    return file_search(conn.engine).index


async def add_file(
    conn: AsyncConnection,
    store_id: str,
    file_id: str,
    chunks: Sequence[Chunk],
    vectors: Sequence[Sequence[float]],
    *,
    embedder: str,
    attributes: Mapping[str, Any] | None = None,
) -> None:
    """Index a file's chunks with the given vectors, as ingestion does (`add_rows`)."""
    rows = chunk_rows(chunks, vectors)
    await index_of(conn).add_rows(
        conn, store_id, file_id, rows, embedder=embedder, attributes=attributes
    )


async def close_file_search(engine: AsyncEngine) -> None:
    found = _ENGINES.pop(engine.sync_engine, None)
    if found is not None:
        await found.aclose()


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
    assert _session_pg_url is not None, "the session's own database is made before any test"
    engine = create_async_engine(_session_pg_url)
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
        await close_file_search(engine)
        await engine.dispose()
