"""Keyword postings: what a file's chunks hold of each term, packed, and BM25 over them.

A file's chunks are written (and deleted) in one transaction, so the index keeps one row per
file and term in `vector_store_keyword_postings` (migration 0430 on PostgreSQL, 0440 on SQLite):
how many of the file's chunks hold the term, how often it occurs in them, and the postings
themselves packed into one bytea/blob of (chunk id, term frequency, chunk length) records. A
row with the empty term ("") per file lists every chunk with its length, so the chunk count and
average length come from the same table. A keyword search then reads a few rows per term and
file instead of scoring every matching chunk in SQL (on PostgreSQL a TOAST fetch of its
tsvector and a `ts_rank` per term, ~5-7 µs a row; FTS5's `bm25()`, ~2-3 µs a row: both far too
slow for a query of common words at 100k chunks); the scoring is vectorised here.

The score is FTS5's `bm25()` as SQLite computes it, so both databases rank alike: per term,
idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / average length)), idf =
ln((N - n + 0.5) / (n + 0.5)) floored at 1e-6. Lengths count one token more than the chunk's
terms, as FTS5's do (its row also holds the store-id column's token); on SQLite the terms are
FTS5's own tokens (`fts5_terms`). A one-character (prefix) term stands for every term it
begins: its frequency in a chunk is theirs summed, its n the chunks holding any of them, as
FTS5 counts a prefix phrase.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

# One posting: chunk id, the term's frequency in it, the chunk's length (little-endian). A dtype
# spec, not an `np.dtype`: numpy is imported on first use (idle RSS, docs/performance.md).
POSTING = [("id", "<i8"), ("tf", "<u4"), ("length", "<u4")]
ALL_CHUNKS = ""  # the per-file row that lists every chunk (no term is empty)
# FTS5's bm25() constants (sqlite_search.BM25_K1 is the same k1).
K1, B = 1.2, 0.75
# FTS5 counts the store-id token of each row in its length (see the module docstring).
EXTRA_TOKENS = 1


@dataclass(frozen=True, slots=True)
class FilePosting:
    """One row of a file: a term, the chunks holding it, its occurrences, its postings."""

    term: str
    chunks: int
    occurrences: int
    postings: bytes


def file_postings(chunks: Sequence[tuple[int, Sequence[str]]]) -> list[FilePosting]:
    """The rows of a file whose chunks are (chunk id, keywords.terms of its text)."""
    by_term: dict[str, list[tuple[int, int, int]]] = {}
    every: list[tuple[int, int, int]] = []
    for chunk_id, terms in chunks:
        length = len(terms) + EXTRA_TOKENS
        every.append((chunk_id, length, length))
        for term, tf in Counter(terms).items():
            by_term.setdefault(term, []).append((chunk_id, tf, length))
    rows = [_row(ALL_CHUNKS, every)]
    rows.extend(_row(term, postings) for term, postings in by_term.items())
    return rows


def insert_params(
    store_id: str, file_id: str, packed: Sequence[FilePosting]
) -> list[dict[str, object]]:
    """The parameters of both databases' INSERT of a file's postings rows."""
    return [
        {
            "store_id": store_id,
            "file_id": file_id,
            "term": p.term,
            "chunks": p.chunks,
            "occurrences": p.occurrences,
            "postings": p.postings,
        }
        for p in packed
    ]


def _row(term: str, postings: list[tuple[int, int, int]]) -> FilePosting:
    import numpy as np

    packed = np.array(sorted(postings), dtype=POSTING)
    return FilePosting(term, len(packed), int(packed["tf"].sum()), packed.tobytes())


def unpack(blob: bytes | None) -> npt.NDArray[np.void]:
    import numpy as np

    return np.frombuffer(blob or b"", dtype=POSTING)


def idf(total: int, count: int) -> float:
    """FTS5's idf of a term in `count` of `total` chunks (1e-6 where bm25() makes it that: at
    zero or below)."""
    value = math.log((total - count + 0.5) / (count + 0.5))
    return value if value > 0.0 else 1e-6


def prefix_postings(postings: npt.NDArray[np.void]) -> npt.NDArray[np.void]:
    """The postings of the terms a prefix stands for, one per chunk, frequencies summed."""
    import numpy as np

    if not len(postings):
        return postings
    ids, inverse = np.unique(postings["id"], return_inverse=True)
    merged = np.zeros(len(ids), dtype=POSTING)
    merged["id"] = ids
    merged["tf"] = np.bincount(inverse, weights=postings["tf"]).astype(np.uint32)
    merged["length"][inverse] = postings["length"]
    return merged


def _summed(
    ids: npt.NDArray[np.int64], values: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The distinct ids, ascending, and the sum of their values. Chunk ids of a store are
    mostly dense, so the sums are one bincount over their range when that is not much larger
    than the postings (no sort); else through np.unique."""
    import numpy as np

    low, high = int(ids.min()), int(ids.max())
    if high - low < max(4 * len(ids), 1 << 16):
        offsets = ids - low
        sums = np.bincount(offsets, weights=values, minlength=high - low + 1)
        present = np.bincount(offsets, minlength=high - low + 1) > 0
        found: npt.NDArray[np.int64] = np.flatnonzero(present).astype(np.int64) + low
        summed = sums[present].astype(np.float64, copy=False)
        return found, summed
    distinct, inverse = np.unique(ids, return_inverse=True)
    totals = np.bincount(inverse, weights=values).astype(np.float64, copy=False)
    return distinct.astype(np.int64), totals


def bm25_top(
    terms: Sequence[tuple[float, npt.NDArray[np.void]]],
    average_length: float,
    limit: int,
) -> list[tuple[int, float]]:
    """The best `limit` chunks by BM25 over (idf, one posting per chunk) of each query term,
    (chunk id, score), best first; ties go to the smaller id."""
    import numpy as np

    parts = [p for _, p in terms if len(p)]
    if not parts or limit <= 0:
        return []
    postings = np.concatenate(parts)
    weights = np.concatenate([np.full(len(p), w) for w, p in terms if len(p)])
    tf = postings["tf"].astype(np.float64)
    # The operations of FTS5's bm25() in its order, so the scores are its own to the last bit
    # (the sums below add each chunk's terms in query order too, as bm25() does).
    norm = K1 * (1 - B + B * postings["length"].astype(np.float64) / average_length)
    contribution = weights * ((tf * (K1 + 1)) / (tf + norm))
    ids, scores = _summed(postings["id"], contribution)
    if len(ids) > limit:
        # Everything at least as good as the limit-th score, then the exact order below.
        cut = np.partition(scores, len(scores) - limit)[len(scores) - limit]
        keep = scores >= cut
        ids, scores = ids[keep], scores[keep]
    order = np.lexsort((ids, -scores))[:limit]
    return [(int(ids[i]), float(scores[i])) for i in order]
