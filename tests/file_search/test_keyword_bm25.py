"""PostgreSQL keyword ranking (BM25 over the postings rows) is SQLite FTS5's bm25(): the same
chunks, in the same order, with the same scores, on the same files; also after a file is
replaced or deleted, with a file filter, and for one-character (prefix) Japanese terms."""

from __future__ import annotations

import os
import random
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from assistantd.file_search import index, keywords
from assistantd.file_search.chunking import Chunk
from assistantd.file_search.index import postgres, postings
from tests.file_search import schema
from tests.file_search.conftest import (
    PG_URL,
    add_file,
    close_file_search,
    index_of,
    open_engine,
)

WORDS = ["river", "stone", "market", "window", "garden", "letter", "lantern", "harbour"]
JAPANESE = ["東京都", "京都府", "大阪", "東北", "都市", "寺院"]
QUERIES = [
    "lantern river stone",
    "river stone market window garden letter",
    "harbour",
    "東京の寺",  # bigrams and a one-character prefix term
    "都",
    "w3 w7 market",
]

# Never skipped in CI: without a database URL there, the tests fail (as test_pgvector's do).
pytestmark = pytest.mark.skipif(
    not PG_URL and not os.environ.get("CI"), reason="ASSISTANTD_TEST_DATABASE_URL not set"
)


def _files() -> dict[str, list[Chunk]]:
    rng = random.Random(11)
    files = {}
    for f in range(6):
        chunks = []
        for i in range(rng.randint(1, 30)):
            words = rng.choices([f"w{j}" for j in range(40)], k=rng.randint(1, 60))
            words += rng.choices(WORDS, k=rng.randint(0, 6))
            words += rng.choices(JAPANESE, k=rng.randint(0, 3))
            rng.shuffle(words)
            text = " ".join(words)
            chunks.append(Chunk(i, 0, len(text), text, len(words)))
        files[f"file-{f}"] = chunks
    return files


async def _fill(engine: AsyncEngine) -> None:
    for file_id, chunks in _files().items():
        async with engine.begin() as conn:
            await add_file(conn, "vs_b", file_id, chunks, [[1.0, 0.0]] * len(chunks), embedder="t")
    async with engine.begin() as conn:  # a replaced file and a deleted one
        text = "lantern lantern 東京 river"
        chunk = Chunk(0, 0, len(text), text, 4)
        await add_file(conn, "vs_b", "file-1", [chunk], [[1.0, 0.0]], embedder="t")
        await index.delete_file(conn, "vs_b", "file-2")


@pytest.fixture
async def engines(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    sqlite = await open_engine("sqlite", tmp_path)
    pg = await open_engine("pg-bits", tmp_path)
    try:
        await _fill(sqlite)
        await _fill(pg)
        yield sqlite, pg
    finally:
        for engine in (sqlite, pg):
            await close_file_search(engine)
            await engine.dispose()


async def _named(engine: AsyncEngine, ranked: list[tuple[int, float]]) -> list[tuple[str, float]]:
    """(file id#chunk index, score) for (chunk id, score): ids differ between the databases."""
    statement = text(
        "SELECT id, file_id, chunk_index FROM vector_store_chunks WHERE id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    async with engine.connect() as conn:
        found = await conn.execute(statement, {"ids": [i for i, _ in ranked]})
        names = {int(r[0]): f"{r[1]}#{r[2]}" for r in found}
    return [(names[i], score) for i, score in ranked]


@pytest.mark.parametrize("files", [None, {"file-0", "file-1", "file-4"}])
@pytest.mark.parametrize("query", QUERIES)
async def test_postgresql_ranks_as_sqlite_bm25(
    engines: tuple[AsyncEngine, AsyncEngine], query: str, files: set[str] | None
) -> None:
    sqlite, pg = engines
    terms = keywords.query_terms(query)
    async with sqlite.connect() as conn:
        searcher = index_of(conn)._sqlite_searcher(conn)
    expected = searcher._keyword(["vs_b"], files, terms, 10, from_postings=False)
    async with pg.connect() as conn:
        got = await postgres.keyword_ranked(conn, ["vs_b"], files, terms, 10)
    assert expected, query
    want, have = await _named(sqlite, expected), await _named(pg, got)
    assert [name for name, _ in have] == [name for name, _ in want], query
    assert [score for _, score in have] == pytest.approx([score for _, score in want], rel=1e-9)


async def _postings_rows(engine: AsyncEngine) -> list[tuple[object, ...]]:
    async with engine.connect() as conn:
        found = await conn.execute(
            text(
                "SELECT store_id, file_id, term, chunks, occurrences, postings "
                "FROM vector_store_keyword_postings ORDER BY store_id, file_id, term"
            )
        )
        return [tuple(row) for row in found]


async def test_the_migration_backfills_the_postings_of_indexed_files(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    """Migration 0430 on a database with files (their chunks as the previous head wrote them:
    the chunk rows are unchanged) makes the very postings the index writes."""
    _, pg = engines
    written = await _postings_rows(pg)
    async with pg.begin() as conn:
        await conn.run_sync(schema._run, [schema.POSTINGS], "downgrade")
        await conn.run_sync(schema._run, [schema.POSTINGS], "upgrade")
    assert len(written) > 100
    assert await _postings_rows(pg) == written


def test_scores_are_summed_alike_for_dense_and_sparse_ids() -> None:
    """`_summed` takes a bincount over dense ids and np.unique over sparse ones: same sums."""
    rng = np.random.default_rng(3)
    ids = rng.integers(0, 500, 2000)
    values = rng.random(2000)
    dense_ids, dense = postings._summed(ids, values)
    sparse_ids, sparse = postings._summed(ids * 10**9, values)  # far wider than the postings
    assert list(sparse_ids) == [i * 10**9 for i in dense_ids]
    assert sparse == pytest.approx(dense, rel=1e-12)
    expected = {int(i): float(values[ids == i].sum()) for i in np.unique(ids)}
    assert dict(zip(dense_ids.tolist(), dense.tolist(), strict=True)) == pytest.approx(expected)
