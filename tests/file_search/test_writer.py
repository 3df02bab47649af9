"""Group commit: concurrent ingestions share transactions, and a bad file fails alone."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from assistantd.file_search import index
from assistantd.file_search.parsing import InvalidFileError
from tests.file_search.conftest import file_search
from tests.support.embedders import HashingEmbedder

EMBEDDER = HashingEmbedder(32)


async def test_concurrent_ingestion_and_one_failing_file(engine: AsyncEngine) -> None:
    files = {
        f"file-{i}": f"Document {i} mentions topic{i} and shared words.".encode() for i in range(20)
    }
    results = await asyncio.gather(
        *(
            file_search(engine).ingest_file("vs_w", name, data, "a.txt", embedder=EMBEDDER)
            for name, data in files.items()
        ),
        # Registered for 32 dimensions by then or not: either this or the others get refused.
        file_search(engine).ingest_file(
            "vs_w", "file-bad", b"words", "a.txt", embedder=HashingEmbedder(16)
        ),
        file_search(engine).ingest_file("vs_w", "file-empty", b"  ", "a.txt", embedder=EMBEDDER),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 2
    assert any(isinstance(e, index.EmbedderMismatchError) for e in errors)
    assert any(isinstance(e, InvalidFileError) for e in errors)
    async with engine.connect() as conn:
        count = await conn.scalar(text("SELECT count(*) FROM vector_store_index_files"))
        assert count == 20
        hits = await file_search(engine).search_stores(
            conn, ["vs_w"], "topic7", embedder=EMBEDDER, k=1
        )
    assert hits[0].file_id == "file-7"


@pytest.mark.parametrize("mode", ["hybrid", "keyword", "vector"])
async def test_score_threshold_and_budget(engine: AsyncEngine, mode: index.SearchMode) -> None:
    from assistantd.file_search.retrieval import fit_to_budget

    await file_search(engine).ingest_file(
        "vs_t", "f1", b"alpha beta gamma " * 50, "a.txt", embedder=EMBEDDER
    )
    await file_search(engine).ingest_file(
        "vs_t", "f2", b"alpha delta " * 5, "a.txt", embedder=EMBEDDER
    )
    async with engine.connect() as conn:
        hits = await file_search(engine).search_stores(
            conn, ["vs_t"], "alpha gamma", embedder=EMBEDDER, mode=mode
        )
        top = hits[0].score
        strict = await file_search(engine).search_stores(
            conn, ["vs_t"], "alpha gamma", embedder=EMBEDDER, mode=mode, score_threshold=top
        )
    # "alpha" is in every chunk: its idf is floored, so keyword search leaves it out.
    assert len(hits) == (1 if mode == "keyword" else 2)
    assert strict == [hit for hit in hits if hit.score >= top] and strict
    assert fit_to_budget(hits, 10) == [] or len(fit_to_budget(hits, 10)) < 2
    assert fit_to_budget(hits, 10_000) == hits
