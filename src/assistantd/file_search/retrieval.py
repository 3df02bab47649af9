"""The pure steps around the index: prepare a file, merge hits of several queries, fit a budget.

Owns parse-and-chunk as one CPU-bound step (`prepare`, run off the event loop), the merge of
several queries' hits (each chunk once, with its best score), and the trim to a token budget.
`FileSearchEngine` (in `engine`) puts them in order around the index; parsing failures surface
as the typed errors of `parsing` (`FileParseError` with its `code`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from assistantd.file_search import index
from assistantd.file_search.chunking import AUTO, Chunk, StaticChunking, chunk_text
from assistantd.file_search.parsing import parse_file
from assistantd.tokens import count_tokens


@dataclass(frozen=True, slots=True)
class IngestResult:
    chunks: int
    tokens: int
    characters: int


def prepare(data: bytes, filename: str, strategy: StaticChunking = AUTO) -> list[Chunk]:
    """Parse and chunk a file (CPU-bound: run it off the event loop)."""
    return chunk_text(parse_file(data, filename), strategy)


def best_per_chunk(hits: Sequence[index.Hit], k: int) -> list[index.Hit]:
    """The `k` best of `hits` (of several queries), best first, each chunk once at its best
    score; of equal scores, the one found first comes first."""
    best: dict[int, index.Hit] = {}
    for hit in sorted(hits, key=lambda h: -h.score):
        best.setdefault(hit.chunk_id, hit)
    return list(best.values())[:k]


def fit_to_budget(
    hits: Sequence[index.Hit], max_tokens: int, model: str | None = None
) -> list[index.Hit]:
    """The leading hits whose texts together fit in `max_tokens` (as `model` counts them)."""
    kept: list[index.Hit] = []
    used = 0
    for hit in hits:
        used += count_tokens(hit.text, model)
        if used > max_tokens:
            break
        kept.append(hit)
    return kept
