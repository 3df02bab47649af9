"""SQLite keyword ranking skips rows that cannot reach the top (MaxScore pruning), with the very
same hits and scores as scoring every row that has a query term."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from assistantd.file_search import keywords
from assistantd.file_search.chunking import Chunk
from assistantd.file_search.index import sqlite_search
from tests.file_search.conftest import add_file, close_file_search, index_of, open_engine

COMMON = ["river", "stone", "market", "window", "garden", "letter"]
RARE = ["lantern", "harbour", "quartz"]


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = await open_engine("sqlite", tmp_path)
    rng = random.Random(5)
    filler = [f"w{i}" for i in range(300)]
    for f in range(8):
        chunks = []
        for i in range(60):
            words = rng.choices(filler, k=40)
            # Common words in about a seventh of the chunks each, rare ones in a few.
            words += [w for w in COMMON if rng.random() < 0.12]
            words += [w for w in RARE if rng.random() < 0.04]
            words += rng.choices(COMMON, k=rng.randint(0, 1))  # repeats: varied term counts
            rng.shuffle(words)
            text = " ".join(words)
            chunks.append(Chunk(i, 0, len(text), text, len(words)))
        # Short chunks of repeated common words: they rank high without a rare word, so a
        # bound that undercounts what common words can add would drop them.
        for i in range(60, 63):
            text = " ".join(rng.choices(COMMON, k=4) * 3)
            chunks.append(Chunk(i, 0, len(text), text, 12))
        async with engine.begin() as conn:
            await add_file(
                conn, "vs_p", f"file-{f}", chunks, [[1.0, 0.0]] * len(chunks), embedder="t"
            )
    yield engine
    await close_file_search(engine)
    await engine.dispose()


def _ranked_both_ways(
    searcher: sqlite_search.Searcher,
    monkeypatch: pytest.MonkeyPatch,
    query: str,
    files: set[str] | None,
    limit: int,
) -> tuple[sqlite_search.Ranked, sqlite_search.Ranked, list[list[str] | None]]:
    """(pruned ranking, ranking of every row with a term, the pruned passes' essential terms)."""
    pruned, passes = sqlite_search._pruned_ranking, []

    def spying(
        query: list[str],
        counts: dict[str, int],
        total: int,
        limit: int,
        ranked: sqlite_search.RankedQuery,
    ) -> sqlite_search.Ranked:
        def spy(essential: list[str] | None) -> sqlite_search.Ranked:
            passes.append(essential)
            return ranked(essential)

        return pruned(query, counts, total, limit, spy)

    def every_row(
        query: list[str],
        counts: dict[str, int],
        total: int,
        limit: int,
        ranked: sqlite_search.RankedQuery,
    ) -> sqlite_search.Ranked:
        return ranked(None)

    terms = keywords.query_terms(query)
    monkeypatch.setattr(sqlite_search, "_pruned_ranking", spying)
    got = searcher._keyword(["vs_p"], files, terms, limit, from_postings=False)
    monkeypatch.setattr(sqlite_search, "_pruned_ranking", every_row)
    expected = searcher._keyword(["vs_p"], files, terms, limit, from_postings=False)
    monkeypatch.setattr(sqlite_search, "_pruned_ranking", pruned)
    return got, expected, passes


QUERIES = [
    "lantern river stone",
    "quartz harbour market window garden",
    "river stone market window garden letter",
    "lantern river",
]


@pytest.mark.parametrize("limit", [3, 10, 50])
async def test_pruned_ranking_is_the_full_ranking(
    sqlite_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch, limit: int
) -> None:
    async with sqlite_engine.connect() as conn:
        searcher = index_of(conn)._sqlite_searcher(conn)
    restricted = 0
    for query in QUERIES:
        got, expected, passes = _ranked_both_ways(searcher, monkeypatch, query, None, limit)
        assert got == expected, query
        assert len(got) == limit
        restricted += sum(p is not None for p in passes)
    # Some queries were answered from the rows of their rarer words alone.
    assert restricted > 0


async def test_pruning_keeps_file_filters(
    sqlite_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with sqlite_engine.connect() as conn:
        searcher = index_of(conn)._sqlite_searcher(conn)
    for query in QUERIES:
        got, expected, _ = _ranked_both_ways(searcher, monkeypatch, query, {"file-2", "file-5"}, 10)
        assert got == expected, query
        assert got
