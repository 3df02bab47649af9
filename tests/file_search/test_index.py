"""The chunk index on real SQLite (sqlite-vec + FTS5) and real PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from assistantd.file_search import index
from assistantd.file_search.chunking import StaticChunking, chunk_text
from tests.file_search.conftest import add_file, index_of
from tests.support.embedders import HashingEmbedder

EMBEDDER = HashingEmbedder(64)

DOCS = {
    "file-fruit": "Apples and pears grow in orchards. The orchard harvest is in autumn.",
    "file-space": "The rocket launched to orbit. Astronauts live on the space station.",
    "file-ja": "東京都は日本の首都です。京都は古い都で、寺がたくさんあります。",
}


async def _index(
    engine: AsyncEngine, store: str, file_id: str, content: str, **attrs: object
) -> None:
    chunks = chunk_text(content, StaticChunking(100, 50))
    vectors = await EMBEDDER.embed([c.text for c in chunks])
    async with engine.begin() as conn:
        await add_file(
            conn, store, file_id, chunks, vectors, embedder=EMBEDDER.name, attributes=attrs
        )


async def _search(
    engine: AsyncEngine, stores: list[str], query: str, **kw: object
) -> list[index.Hit]:
    vector = (await EMBEDDER.embed([query]))[0]
    async with engine.connect() as conn:
        return await index_of(conn).search(
            conn,
            stores,
            query_text=query,
            query_vector=vector,
            embedder=EMBEDDER.name,
            **kw,  # type: ignore[arg-type]
        )


@pytest.fixture
async def loaded(engine: AsyncEngine) -> AsyncEngine:
    await _index(engine, "vs_a", "file-fruit", DOCS["file-fruit"], topic="food", year=2023)
    await _index(engine, "vs_a", "file-space", DOCS["file-space"], topic="science", year=2025)
    await _index(engine, "vs_a", "file-ja", DOCS["file-ja"], topic="travel", year=2024)
    await _index(engine, "vs_b", "file-other", "Orchard rockets and Tokyo, in another store.")
    return engine


@pytest.mark.parametrize("mode", ["hybrid", "keyword", "vector"])
async def test_each_mode_finds_the_right_file(loaded: AsyncEngine, mode: str) -> None:
    hits = await _search(loaded, ["vs_a"], "orchard harvest", mode=mode)
    assert hits[0].file_id == "file-fruit"
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert all(h.store_id == "vs_a" for h in hits)


async def test_hits_carry_exact_offsets(loaded: AsyncEngine) -> None:
    [hit] = await _search(loaded, ["vs_a"], "astronauts", k=1)
    assert hit.file_id == "file-space"
    assert DOCS["file-space"][hit.start : hit.end] == hit.text


@pytest.mark.parametrize("query", ["京都", "日本の首都", "寺"])
async def test_japanese_keyword_queries_match(loaded: AsyncEngine, query: str) -> None:
    hits = await _search(loaded, ["vs_a"], query, mode="keyword")
    assert [h.file_id for h in hits] == ["file-ja"]


async def test_search_spans_several_stores(loaded: AsyncEngine) -> None:
    hits = await _search(loaded, ["vs_a", "vs_b"], "orchard", mode="keyword")
    assert {h.file_id for h in hits} == {"file-fruit", "file-other"}


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"type": "eq", "key": "topic", "value": "science"}, {"file-space"}),
        ({"type": "gte", "key": "year", "value": 2024}, {"file-space", "file-ja"}),
        (
            {
                "type": "or",
                "filters": [
                    {"type": "eq", "key": "topic", "value": "food"},
                    {"type": "lt", "key": "year", "value": 2024.5},
                ],
            },
            {"file-fruit", "file-ja"},
        ),
        ({"type": "eq", "key": "topic", "value": "nothing"}, set()),
    ],
)
async def test_attribute_filters(
    loaded: AsyncEngine, filters: dict[str, object], expected: set[str]
) -> None:
    hits = await _search(loaded, ["vs_a"], "orchard rocket 東京", k=20, filters=filters)
    assert {h.file_id for h in hits} == expected


async def test_updated_attributes_apply(loaded: AsyncEngine) -> None:
    async with loaded.begin() as conn:
        await index.set_file_attributes(conn, "vs_a", "file-fruit", {"topic": "science"})
    hits = await _search(
        loaded,
        ["vs_a"],
        "orchard rocket",
        filters={"type": "eq", "key": "topic", "value": "science"},
    )
    assert {h.file_id for h in hits} == {"file-fruit", "file-space"}


async def test_delete_file_removes_it_from_every_mode(loaded: AsyncEngine) -> None:
    async with loaded.begin() as conn:
        assert await index.delete_file(conn, "vs_a", "file-fruit") >= 1
    for mode in ("hybrid", "keyword", "vector"):
        hits = await _search(loaded, ["vs_a"], "orchard harvest", mode=mode)
        assert "file-fruit" not in {h.file_id for h in hits}


async def test_searches_see_every_change_after_an_earlier_search(loaded: AsyncEngine) -> None:
    """SQLite keeps searched stores' sign bits in memory: each change must still show at once."""
    for mode in ("vector", "keyword"):
        assert (await _search(loaded, ["vs_a"], "orchard harvest", mode=mode))[0].file_id == (
            "file-fruit"
        )
    async with loaded.begin() as conn:
        await index.delete_file(conn, "vs_a", "file-fruit")
    for mode in ("vector", "keyword"):
        hits = await _search(loaded, ["vs_a"], "orchard harvest", mode=mode)
        assert "file-fruit" not in {h.file_id for h in hits}
    await _index(loaded, "vs_a", "file-sea", "Submarines dive deep under the sea.")
    for mode in ("vector", "keyword"):
        hits = await _search(loaded, ["vs_a"], "submarines dive deep under the sea", mode=mode)
        assert hits[0].file_id == "file-sea"
    async with loaded.begin() as conn:  # vs_a is now every indexed chunk: keywords go unscoped
        await index.delete_store(conn, "vs_b")
    hits = await _search(loaded, ["vs_a"], "rocket orbit", mode="keyword")
    assert {h.store_id for h in hits} == {"vs_a"}
    assert {h.file_id for h in hits} == {"file-space"}


async def test_reindexing_a_file_replaces_its_chunks(loaded: AsyncEngine) -> None:
    await _index(loaded, "vs_a", "file-fruit", "Completely new text about submarines.")
    assert not await _search(loaded, ["vs_a"], "apples pears", mode="keyword")
    [hit] = await _search(loaded, ["vs_a"], "submarines", mode="keyword")
    assert hit.file_id == "file-fruit"


async def test_delete_store(loaded: AsyncEngine) -> None:
    async with loaded.begin() as conn:
        await index.delete_store(conn, "vs_a")
        assert await index.store_embedder(conn, "vs_a") is None
    assert not await _search(loaded, ["vs_a"], "orchard")
    assert await _search(loaded, ["vs_b"], "orchard")


async def test_a_rolled_back_file_is_never_visible(engine: AsyncEngine) -> None:
    chunks = chunk_text(DOCS["file-space"], StaticChunking(100, 50))
    vectors = await EMBEDDER.embed([c.text for c in chunks])
    async with engine.connect() as conn:
        transaction = await conn.begin()
        await add_file(conn, "vs_a", "file-space", chunks, vectors, embedder=EMBEDDER.name)
        await transaction.rollback()
    assert not await _search(engine, ["vs_a"], "rocket orbit")


async def test_a_store_refuses_another_embedder(loaded: AsyncEngine) -> None:
    async with loaded.begin() as conn:
        with pytest.raises(index.EmbedderMismatchError):
            await index.register_store(conn, "vs_a", "local:other", 64)
    async with loaded.connect() as conn:
        with pytest.raises(index.EmbedderMismatchError):
            await index_of(conn).search(conn, ["vs_a"], query_text="x", query_vector=[1.0] * 32)
        with pytest.raises(index.EmbedderMismatchError):
            await index_of(conn).search(
                conn, ["vs_a"], query_text="x", query_vector=[1.0] * 64, embedder="local:other"
            )


async def test_queries_without_terms_or_stores(loaded: AsyncEngine) -> None:
    assert not await _search(loaded, [], "orchard")
    assert not await _search(loaded, ["vs_a"], "?!", mode="keyword")
    assert await _search(loaded, ["vs_a"], "?!", mode="hybrid")  # the vector side still answers


async def test_keyword_search_leaves_the_planner_settings_as_they_were(loaded: AsyncEngine) -> None:
    async with loaded.connect() as conn:
        hits = await index_of(conn).search(
            conn, ["vs_a"], query_text="orchard harvest", query_vector=None, k=5, mode="keyword"
        )
        assert hits[0].file_id == "file-fruit"
        if conn.dialect.name == "postgresql":
            # The index scans forced for the keyword queries do not outlive them.
            assert (await conn.execute(text("SHOW enable_seqscan"))).scalar() == "on"
