"""Retrieval quality of the default embedder and the index, on the labelled set.

Reports recall@5 and recall@20 for keyword-only, vector-only and hybrid search (printed, and
visible with `pytest -s` or in the captured output), and requires hybrid to be the best or tied
best of the three. Uses the real default embedder (`LocalEmbedder`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from assistantd.file_search import index
from assistantd.file_search.chunking import StaticChunking
from assistantd.file_search.embeddings import LocalEmbedder
from tests.file_search.conftest import (
    BACKENDS,
    close_file_search,
    file_search,
    index_of,
    open_engine,
)
from tests.file_search.retrieval_set import DOCUMENTS, QUESTIONS, Question, distractor_documents

STORE = "vs_eval"
CHUNKING = StaticChunking(max_chunk_size_tokens=100, chunk_overlap_tokens=50)
# (label, mode, fusion): the default hybrid, and hybrid with reciprocal rank fusion for contrast.
MODES: tuple[tuple[str, index.SearchMode, index.Fusion], ...] = (
    ("keyword", "keyword", "relative"),
    ("vector", "vector", "relative"),
    ("hybrid", "hybrid", "relative"),
    ("hybrid-rrf", "hybrid", "rrf"),
)
EMBEDDER = LocalEmbedder()


@pytest.fixture(scope="module", params=BACKENDS)
async def eval_engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AsyncEngine]:
    engine = await open_engine(request.param, tmp_path_factory.mktemp("eval"))
    for name, content in {**DOCUMENTS, **distractor_documents()}.items():
        await file_search(engine).ingest_file(
            STORE, name, content.encode(), name, embedder=EMBEDDER, strategy=CHUNKING
        )
    yield engine
    await close_file_search(engine)
    await engine.dispose()


def _is_gold(hit: index.Hit, question: Question) -> bool:
    return hit.file_id == question.document and question.passage in hit.text


async def _recalls(
    engine: AsyncEngine, mode: index.SearchMode, fusion: index.Fusion
) -> dict[int, float]:
    found = {5: 0, 20: 0}
    vectors = await EMBEDDER.embed([q.text for q in QUESTIONS])
    async with engine.connect() as conn:
        for question, vector in zip(QUESTIONS, vectors, strict=True):
            hits = await index_of(conn).search(
                conn,
                [STORE],
                query_text=question.text,
                query_vector=vector,
                k=20,
                mode=mode,
                fusion=fusion,
            )
            ranks = [i for i, hit in enumerate(hits) if _is_gold(hit, question)]
            for k in found:
                found[k] += bool(ranks and ranks[0] < k)
    return {k: n / len(QUESTIONS) for k, n in found.items()}


async def test_every_question_has_a_gold_chunk(eval_engine: AsyncEngine) -> None:
    async with eval_engine.connect() as conn:
        for question in QUESTIONS:
            hits = await index_of(conn).search(
                conn, [STORE], query_text=question.passage, query_vector=None, k=50, mode="keyword"
            )
            assert any(_is_gold(hit, question) for hit in hits), question


async def test_hybrid_is_the_best_mode(
    eval_engine: AsyncEngine, capsys: pytest.CaptureFixture[str]
) -> None:
    recall = {label: await _recalls(eval_engine, mode, fusion) for label, mode, fusion in MODES}
    with capsys.disabled():
        print(f"\nretrieval on {eval_engine.dialect.name}, {len(QUESTIONS)} questions:")
        for label, found in recall.items():
            print(f"  {label:10} recall@5={found[5]:.3f} recall@20={found[20]:.3f}")
    for k in (5, 20):
        assert recall["hybrid"][k] >= max(recall["keyword"][k], recall["vector"][k])
    assert recall["hybrid"][20] >= 0.8
