from __future__ import annotations

import itertools

import pytest

from assistantd.file_search.chunking import (
    AUTO,
    ChunkingStrategyError,
    StaticChunking,
    chunk_text,
    strategy_from_request,
)
from assistantd.tokens import get_encoding

ENGLISH = " ".join(f"Sentence number {i} talks about topic {i % 7}." for i in range(600))
JAPANESE = "".join(f"第{i}章：東京都の人口と京都の寺について説明します。" for i in range(300))
EMOJI = "Party 🎉🎊 time! 👩‍👩‍👧‍👦 family. " * 400


def test_auto_is_800_with_400_overlap() -> None:
    assert strategy_from_request(None) == AUTO
    assert strategy_from_request({"type": "auto"}) == AUTO
    assert AUTO.to_api() == {
        "type": "static",
        "static": {"max_chunk_size_tokens": 800, "chunk_overlap_tokens": 400},
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"type": "static", "static": {"max_chunk_size_tokens": 99, "chunk_overlap_tokens": 0}},
         "chunking_strategy.static.max_chunk_size_tokens"),
        ({"type": "static", "static": {"max_chunk_size_tokens": 4097, "chunk_overlap_tokens": 0}},
         "chunking_strategy.static.max_chunk_size_tokens"),
        ({"type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 101}},
         "chunking_strategy.static.chunk_overlap_tokens"),
        ({"type": "static", "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": -1}},
         "chunking_strategy.static.chunk_overlap_tokens"),
        ({"type": "static", "static": {"max_chunk_size_tokens": "200", "chunk_overlap_tokens": 0}},
         "chunking_strategy.static.max_chunk_size_tokens"),
        ({"type": "static"}, "chunking_strategy.static"),
        ({"type": "other"}, "chunking_strategy.type"),
    ],
)  # fmt: skip
def test_invalid_strategies(body: dict[str, object], param: str) -> None:
    with pytest.raises(ChunkingStrategyError) as caught:
        strategy_from_request(body)
    assert caught.value.param == param


def test_static_bounds_are_inclusive() -> None:
    assert strategy_from_request(
        {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 50}}
    ) == StaticChunking(100, 50)
    assert StaticChunking(4096, 2048).max_chunk_size_tokens == 4096


@pytest.mark.parametrize("text", [ENGLISH, JAPANESE, EMOJI])
@pytest.mark.parametrize("strategy", [AUTO, StaticChunking(100, 50), StaticChunking(300, 0)])
def test_chunks_are_exact_slices_within_budget(text: str, strategy: StaticChunking) -> None:
    encoding = get_encoding("o200k_base")
    chunks = chunk_text(text, strategy)
    assert chunks[0].start == 0 and chunks[-1].end == len(text)
    for i, chunk in enumerate(chunks):
        assert chunk.index == i
        assert text[chunk.start : chunk.end] == chunk.text
        # Widening to whole characters adds at most a token at each edge.
        assert len(encoding.encode_ordinary(chunk.text)) <= strategy.max_chunk_size_tokens + 2
    for before, after in itertools.pairwise(chunks):
        assert before.start < after.start <= before.end  # windows advance and leave no gap


def test_overlap_repeats_text() -> None:
    chunks = chunk_text(ENGLISH, StaticChunking(100, 50))
    a, b = chunks[0], chunks[1]
    assert b.start < a.end
    assert ENGLISH[b.start : a.end] in a.text


def test_japanese_never_splits_a_character() -> None:
    # Single kanji often take two BPE tokens; every boundary must still be a character.
    chunks = chunk_text("鬱" * 500 + "龘" * 500, StaticChunking(100, 50))
    assert all(set(c.text) <= {"鬱", "龘"} for c in chunks)
    assert "".join(c.text for c in chunks[::2])  # decodes cleanly


def test_short_and_empty_texts() -> None:
    assert chunk_text("") == []
    assert chunk_text("   \n\n ") == []
    [only] = chunk_text("Just one line.")
    assert (only.start, only.end, only.text) == (0, 14, "Just one line.")
