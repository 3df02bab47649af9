"""PostgreSQL's two vector paths: pgvector through migration 0102 (required on CI) and the BIT
VARYING fallback when the migration may not install the extension.

The shared behaviour of both paths is tested by every test of the index (the `postgresql` and
`pg-bits` backends); these cover what only one path has.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import numpy as np
import numpy.typing as npt
import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, bindparam, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from assistantd.db.migrate import upgrade
from assistantd.file_search import index
from assistantd.file_search.chunking import Chunk
from assistantd.file_search.index import postgres
from tests.file_search.conftest import PG_URL, add_file, index_of, open_engine
from tests.file_search.schema import HALFVEC, PGVECTOR, VERSIONS, _run, recreate_schema
from tests.support.server import fresh_postgres_database

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not PG_URL and not os.environ.get("CI"), reason="ASSISTANTD_TEST_DATABASE_URL not set"
    ),
]
DIMENSIONS = 16
Vectors = npt.NDArray[np.float32]


@pytest.fixture
async def pg(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AsyncEngine]:
    engine = await open_engine("postgresql", tmp_path_factory.mktemp("pg"))
    yield engine
    await engine.dispose()


def _upgrade_to_pgvector(sync_conn: Connection) -> None:
    spec = importlib.util.spec_from_file_location("migration_0102", VERSIONS / f"{PGVECTOR}.py")
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with Operations.context(MigrationContext.configure(sync_conn)):
        migration.upgrade()


def _vectors(count: int, seed: int) -> Vectors:
    vectors = np.random.default_rng(seed).standard_normal((count, DIMENSIONS), np.float32)
    unit: Vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return unit


async def _add(engine: AsyncEngine, store: str, file_id: str, vectors: Vectors) -> None:
    chunks = [Chunk(i, 0, 5, f"c{i:04d}", 1) for i in range(len(vectors))]
    async with engine.begin() as conn:
        await add_file(conn, store, file_id, chunks, vectors.tolist(), embedder="test")


async def _vector_search(
    engine: AsyncEngine, stores: list[str], query: Vectors, k: int
) -> list[index.Hit]:
    async with engine.connect() as conn:
        return await index_of(conn).search(
            conn, stores, query_text="", query_vector=query.tolist(), k=k, mode="vector"
        )


async def test_a_new_dimension_gets_its_hnsw_index_and_exact_scores(pg: AsyncEngine) -> None:
    vectors = _vectors(1500, seed=1)
    await _add(pg, "vs_big", "file-big", vectors)
    async with pg.connect() as conn:
        name = f"ix_vector_store_chunk_vectors_half_{DIMENSIONS}"
        assert (await conn.execute(text(f"SELECT to_regclass('{name}')"))).scalar() is not None
    query = _vectors(1, seed=2)[0]
    async with pg.connect() as conn:
        hits = await index_of(conn).search(
            conn, ["vs_big"], query_text="", query_vector=query.tolist(), k=20, mode="vector"
        )
        # The custom plans forced for the vector query do not outlive it.
        assert (await conn.execute(text("SHOW plan_cache_mode"))).scalar() == "auto"
    exact = np.argsort(-(vectors @ query))[:20]
    assert len({int(h.text[1:]) for h in hits} & {int(i) for i in exact}) >= 18
    for hit in hits:
        assert hit.score == pytest.approx(float(vectors[int(hit.text[1:])] @ query), abs=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


async def test_the_index_scan_is_the_halfvec_index(pg: AsyncEngine) -> None:
    """The query's ORDER BY is the expression of the dimension's index (else every search would
    silently be an exact scan)."""
    await _add(pg, "vs_big", "file-big", _vectors(1500, seed=1))
    sql = postgres._NEAREST.format(
        order=postgres._HALF_DISTANCE.format(n=DIMENSIONS), n=DIMENSIONS, files=""
    )
    async with pg.connect() as conn:
        await conn.execute(text("SET enable_seqscan = off"))
        await conn.execute(text("SET enable_indexscan = on"))
        await conn.execute(text("DROP INDEX ix_vector_store_chunk_vectors_file"))
        statement = text(f"EXPLAIN {sql}").bindparams(bindparam("stores", expanding=True))
        params = {"stores": ["vs_big"], "query": _vectors(1, seed=2)[0].tolist(), "limit": 40}
        plan = "\n".join(str(r[0]) for r in await conn.execute(statement, params))
    assert f"ix_vector_store_chunk_vectors_half_{DIMENSIONS}" in plan, plan


async def test_vectors_go_with_their_chunks(pg: AsyncEngine) -> None:
    await _add(pg, "vs_a", "file-1", _vectors(5, seed=9))
    await _add(pg, "vs_a", "file-2", _vectors(7, seed=10))
    count = text("SELECT count(*) FROM vector_store_chunk_vectors")
    async with pg.begin() as conn:
        assert (await conn.execute(count)).scalar() == 12
        await index.delete_file(conn, "vs_a", "file-1")
        assert (await conn.execute(count)).scalar() == 7
        await index.delete_store(conn, "vs_a")
        assert (await conn.execute(count)).scalar() == 0


async def test_a_filter_the_index_scan_cannot_satisfy_falls_back_to_an_exact_scan(
    pg: AsyncEngine,
) -> None:
    await _add(pg, "vs_big", "file-big", _vectors(1500, seed=3))
    await _add(pg, "vs_big", "file-small", _vectors(3, seed=4))
    await _add(pg, "vs_small", "file-other", _vectors(4, seed=5))
    query = _vectors(1, seed=6)[0]
    async with pg.connect() as conn:
        # Leave the HNSW index as the only plan, and let it give up almost at once.
        await conn.execute(text("DROP INDEX ix_vector_store_chunk_vectors_file"))
        await conn.execute(text("SET enable_seqscan = off"))
        await conn.execute(text("SET hnsw.max_scan_tuples = 1"))
        only = {"type": "eq", "key": "name", "value": "small"}
        await index.set_file_attributes(conn, "vs_big", "file-small", {"name": "small"})
        hits = await index_of(conn).search(
            conn, ["vs_big"], query_text="", query_vector=query.tolist(), k=20, mode="vector",
            filters=only,
        )  # fmt: skip
        assert sorted(h.chunk_index for h in hits) == [0, 1, 2]
        hits = await index_of(conn).search(
            conn, ["vs_small"], query_text="", query_vector=query.tolist(), k=20, mode="vector"
        )
        assert sorted(h.chunk_index for h in hits) == [0, 1, 2, 3]


async def _path_of(url: str) -> str:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await postgres.vector_path(conn)
    finally:
        await engine.dispose()


async def test_the_migration_moves_an_existing_index_to_pgvector(pg: AsyncEngine) -> None:
    url = pg.url.render_as_string(hide_password=False)
    before, after = create_async_engine(url), create_async_engine(url)  # paths are per engine
    try:
        await recreate_schema(before, pgvector=False)
        vectors = _vectors(40, seed=8)
        await _add(before, "vs_old", "file-old", vectors)
        async with before.begin() as conn:
            await conn.run_sync(_upgrade_to_pgvector)
        async with after.connect() as conn:
            assert await postgres.vector_path(conn) == "pgvector"
            name = f"ix_vector_store_chunk_vectors_hnsw_{DIMENSIONS}"
            assert (await conn.execute(text(f"SELECT to_regclass('{name}')"))).scalar()
        hits = await _vector_search(after, ["vs_old"], vectors[17], k=40)
        assert len(hits) == 40
        assert hits[0].chunk_index == 17 and hits[0].score == pytest.approx(1.0, abs=1e-5)
        # 0450 puts a halfvec index in the vector index's place; its downgrade, the reverse.
        half = f"ix_vector_store_chunk_vectors_half_{DIMENSIONS}"
        for step, present, absent in (("upgrade", half, name), ("downgrade", name, half)):
            async with after.begin() as conn:
                await conn.run_sync(_run, [HALFVEC], step)
                assert (await conn.execute(text(f"SELECT to_regclass('{present}')"))).scalar()
                assert (
                    await conn.execute(text(f"SELECT to_regclass('{absent}')"))
                ).scalar() is None
            assert await _vector_search(after, ["vs_old"], vectors[17], k=40) == hits
    finally:
        await before.dispose()
        await after.dispose()


def test_the_migrations_install_pgvector() -> None:
    assert PG_URL is not None
    with fresh_postgres_database(PG_URL) as url:
        upgrade(url)
        path = asyncio.run(_path_of(url))
    if path != "pgvector" and not os.environ.get("CI"):
        pytest.skip("pgvector is not installed (scripts/services installs it as root)")
    assert path == "pgvector"


@pytest.fixture
def unprivileged_database() -> Iterator[str]:
    """A fresh database owned by a role that may not create the (untrusted) extension."""
    assert PG_URL is not None
    base = make_url(PG_URL)
    name = f"assistantd_plain_{uuid.uuid4().hex[:10]}"
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)

    async def run(*statements: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            for statement in statements:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(
        run(
            f"CREATE ROLE {name} LOGIN NOSUPERUSER PASSWORD '{name}'",
            f'CREATE DATABASE "{name}" OWNER {name}',
        )
    )
    try:
        url = base.set(username=name, password=name, database=name)
        yield url.render_as_string(hide_password=False)
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f"DROP ROLE {name}"))


def test_without_the_right_to_install_pgvector_the_fallback_serves(
    unprivileged_database: str,
) -> None:
    upgrade(unprivileged_database)  # CREATE EXTENSION is refused; the migration goes on

    async def check() -> None:
        engine = create_async_engine(unprivileged_database)
        try:
            async with engine.connect() as conn:
                assert await postgres.vector_path(conn) == "bits"
            vectors = _vectors(30, seed=7)
            await _add(engine, "vs_plain", "file-plain", vectors)
            hits = await _vector_search(engine, ["vs_plain"], vectors[11], k=3)
            assert hits[0].chunk_index == 11
        finally:
            await engine.dispose()

    asyncio.run(check())
