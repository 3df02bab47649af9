"""SQLite search off the event loop: keyword and vector ranking at once, in worker threads.

The server's SQLite connections run on the event loop (`db/sqlite_inloop`), so a search that
scans tens of thousands of index entries would stall every other request. A `Searcher` (one per
database file, kept by its `ChunkIndex`) keeps a few read-only connections of its own and runs
the keyword ranking (FTS5 BM25) and the vector ranking in two threads at once; SQLite and numpy
release the GIL for the heavy parts, so on two cores a hybrid search costs about the slower of
the two, not their sum.

Vector ranking keeps each searched store's sign bits (one bit per dimension, `rows.sign_bits`)
in memory as a numpy matrix: the Hamming pre-selection is an XOR and a popcount over it (~5 ms
for 100k chunks of 512 dimensions, 64 bytes each), where sqlite-vec's per-row SQL function
calls took ~35 ms and its vec0 KNN over bit vectors ~70 ms. The candidates are then re-scored
exactly by sqlite-vec's `vec_distance_cosine` over the stored float32 embeddings. The cache is
checked against the store's `generation` (bumped in the transaction of every change to its
chunks) inside the same read snapshot it reloads from, so it is never stale and never shows a
half-written file; it holds at most `CACHE_BYTES` of bits, least recently searched out first.

Keyword ranking scores with `bm25(fts, 1.0, 0.0)`: the store-id column weighs nothing. A query
is scoped to its stores with a MATCH on their store-id tokens, except when those stores hold
every indexed chunk (the common one-store server), where that AND would only cost a walk of a
posting list as long as the table. Scoring (~2-3 µs a row) is what a query of common words
costs, so rows that cannot reach the ranking are not scored (`_pruned_ranking`: exact, the
same bm25() values and order as scoring every row).
"""

from __future__ import annotations

import asyncio
import math
import re
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistantd.file_search import keywords
from assistantd.file_search.index import fts5_terms, postings
from assistantd.file_search.index.rows import encode_embedding, sign_bits
from assistantd.file_search.sqlite_extensions import load_sqlite_extensions

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

Ranked = list[tuple[int, float]]
# A ranking over every query term, among the rows with one of the given terms (None: all).
RankedQuery = Callable[[list[str] | None], Ranked]
CACHE_BYTES = 256 * 1024 * 1024
MMAP_BYTES = 2**31 - 2**16  # SQLite's default ceiling for mmap_size


def store_token(store_id: str) -> str:
    """A store id as one FTS5 token (hex), so MATCH can scope to it exactly."""
    return "s" + store_id.encode().hex()


def _marks(n: int) -> str:
    return ",".join("?" * n)


@dataclass(frozen=True, slots=True)
class _StoreBits:
    generation: int
    ids: npt.NDArray[np.int64]  # chunk ids, ascending
    files: npt.NDArray[np.int32]  # per chunk, an index into file_ids
    file_ids: list[str]
    words: npt.NDArray[np.uint64]  # sign bits, zero-padded to whole 64-bit words per row

    @property
    def nbytes(self) -> int:
        return int(self.ids.nbytes + self.files.nbytes + self.words.nbytes)


def _as_words(bits: bytes, rows: int) -> npt.NDArray[np.uint64]:
    """Packed sign bits (`rows` rows of equal width) as 64-bit words, zero-padded per row."""
    import numpy as np

    if not rows:
        return np.zeros((0, 0), dtype=np.uint64)
    matrix = np.frombuffer(bits, dtype=np.uint8).reshape(rows, -1)
    padding = -matrix.shape[1] % 8
    if padding:
        matrix = np.pad(matrix, ((0, 0), (0, padding)))
    return np.ascontiguousarray(matrix).view(np.uint64)


class Searcher:
    """Search over one SQLite database file, on connections and threads of its own."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._idle: list[sqlite3.Connection] = []
        self._cache: OrderedDict[str, _StoreBits] = OrderedDict()
        self._lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cache.clear()
        for connection in idle:
            connection.close()

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            connection = self._idle.pop() if self._idle else None
        if connection is None:
            connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            load_sqlite_extensions(connection)
            connection.execute("PRAGMA query_only = 1")
            # Reads through a memory map: re-scoring touches hundreds of scattered rows, and a
            # pread() per page was most of its cost.
            connection.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
            connection.execute("PRAGMA busy_timeout = 10000")
        try:
            yield connection
        finally:
            with self._lock:
                if self._closed:
                    connection.close()
                else:
                    self._idle.append(connection)

    async def ranked(
        self,
        store_ids: Sequence[str],
        file_ids: Collection[str] | None,
        terms: list[str],
        query: npt.NDArray[np.float32] | None,
        candidates: int,
        depth: int,
    ) -> tuple[Ranked, Ranked]:
        """(keyword ranking, vector ranking), each computed in its own thread."""

        async def nothing() -> Ranked:
            return []

        keyword = (
            asyncio.to_thread(self._keyword, store_ids, file_ids, terms, depth)
            if terms
            else nothing()
        )
        vector = (
            asyncio.to_thread(self._vector, store_ids, file_ids, query, candidates, depth)
            if query is not None
            else nothing()
        )
        keyword_hits, vector_hits = await asyncio.gather(keyword, vector)
        return keyword_hits, vector_hits

    # --- keyword ---------------------------------------------------------------------------

    def _keyword(
        self,
        store_ids: Sequence[str],
        file_ids: Collection[str] | None,
        query: list[str],
        limit: int,
        *,
        from_postings: bool = True,
    ) -> Ranked:
        """The BM25 ranking: from the postings rows when every term is one FTS5 token (the
        same scores as FTS5's bm25(), see `_postings_ranking`), else, or without
        `from_postings`, by FTS5's bm25() itself."""
        with self._connection() as db:
            db.execute("BEGIN")  # one snapshot: row counts, term counts and the ranking
            try:
                return self._keyword_in_snapshot(
                    db, store_ids, file_ids, query, limit, from_postings=from_postings
                )
            finally:
                db.execute("COMMIT")

    def _keyword_in_snapshot(
        self,
        db: sqlite3.Connection,
        store_ids: Sequence[str],
        file_ids: Collection[str] | None,
        query: list[str],
        limit: int,
        *,
        from_postings: bool,
    ) -> Ranked:
        total, scoped_total = db.execute(
            "SELECT coalesce(sum(chunk_count), 0), coalesce(sum(chunk_count) FILTER "
            f"(WHERE store_id IN ({_marks(len(store_ids))})), 0) "
            "FROM vector_store_index_files",
            list(store_ids),
        ).fetchone()
        counts, rows = _term_counts(db, query)
        query = _selective_terms(query, counts, int(total))
        if not query or not scoped_total:
            return []
        keys = [fts5_terms.tokens(term) for term in query]
        if (
            from_postings
            and all(
                len(key) == 1 and (not keywords.is_prefix(term) or key[0] == term)
                for term, key in zip(query, keys, strict=True)
            )
            and _postings_pay(db, query, [k[0] for k in keys], counts, rows)
        ):
            return _postings_ranking(db, store_ids, file_ids, query, [k[0] for k in keys], limit)
        scope = ""
        if scoped_total < total:
            stores = " OR ".join(f'"{store_token(s)}"' for s in store_ids)
            scope = f"store_id : ({stores}) AND "
        join, params = "", []
        if file_ids is not None:
            join = (
                "JOIN vector_store_chunks AS c ON c.id = f.rowid "
                f"AND c.file_id IN ({_marks(len(file_ids))}) "
            )
            params = list(file_ids)

        def ranked(essential: list[str] | None) -> Ranked:
            """The best `limit` chunks by BM25 over every query term, among the chunks that
            have one of the `essential` terms (None: among all)."""
            match = f"{scope}terms : ({keywords.fts5_query(query)})"
            among, extra = "", []
            if essential is not None:
                # `+` keeps FTS5 from taking the IN as a rowid lookup per value.
                among = (
                    "AND +f.rowid IN (SELECT rowid FROM vector_store_chunks_fts "
                    "WHERE vector_store_chunks_fts MATCH ?) "
                )
                extra = [f"terms : ({keywords.fts5_query(essential)})"]
            rows = db.execute(
                "SELECT f.rowid, bm25(vector_store_chunks_fts, 1.0, 0.0) AS score "
                f"FROM vector_store_chunks_fts AS f {join}"
                f"WHERE vector_store_chunks_fts MATCH ? {among}"
                "ORDER BY score, f.rowid LIMIT ?",
                [*params, match, *extra, limit],
            ).fetchall()
            return [(int(row_id), -float(score)) for row_id, score in rows]

        return _pruned_ranking(query, counts, int(total), limit, ranked)

    # --- vector ----------------------------------------------------------------------------

    def _vector(
        self,
        store_ids: Sequence[str],
        file_ids: Collection[str] | None,
        query: npt.NDArray[np.float32],
        candidates: int,
        depth: int,
    ) -> Ranked:
        import numpy as np

        query_words = _as_words(sign_bits(query), 1)[0]
        with self._connection() as db:
            db.execute("BEGIN")  # one snapshot: generations, any reload, the re-scoring
            try:
                generations = db.execute(
                    "SELECT store_id, generation FROM vector_store_index_stores "
                    f"WHERE store_id IN ({_marks(len(store_ids))})",
                    list(store_ids),
                ).fetchall()
                ids: list[npt.NDArray[np.int64]] = []
                distances: list[npt.NDArray[np.int64]] = []
                for store_id, generation in generations:
                    store = self._store_bits(db, str(store_id), int(generation))
                    if store.words.shape[1] != query_words.shape[0]:
                        continue  # another width: the caller's embedder check reports it
                    keep: slice | npt.NDArray[np.bool_] = slice(None)
                    if file_ids is not None:
                        wanted = [i for i, f in enumerate(store.file_ids) if f in file_ids]
                        keep = np.isin(store.files, wanted)
                    xor = store.words[keep] ^ query_words
                    distances.append(np.bitwise_count(xor).sum(axis=1, dtype=np.int64))
                    ids.append(store.ids[keep])
                if not ids:
                    return []
                all_ids, all_distances = np.concatenate(ids), np.concatenate(distances)
                chosen = _nearest(all_ids, all_distances, candidates)
                rows = db.execute(
                    "SELECT id, 1.0 - vec_distance_cosine(embedding, ?) AS similarity "
                    f"FROM vector_store_chunks WHERE id IN ({_marks(len(chosen))}) "
                    "ORDER BY similarity DESC, id LIMIT ?",
                    [encode_embedding(query), *chosen, depth],
                ).fetchall()
            finally:
                db.execute("COMMIT")
        return [(int(row_id), float(similarity)) for row_id, similarity in rows]

    def _store_bits(self, db: sqlite3.Connection, store_id: str, generation: int) -> _StoreBits:
        import numpy as np

        with self._lock:
            cached = self._cache.get(store_id)
            if cached is not None and cached.generation == generation:
                self._cache.move_to_end(store_id)
                return cached
        rows = db.execute(
            "SELECT id, file_id, embedding_bits FROM vector_store_chunks "
            "INDEXED BY ix_vector_store_chunks_vector WHERE store_id = ? ORDER BY id",
            [store_id],
        ).fetchall()
        file_ids = sorted({str(row[1]) for row in rows})
        code = {file_id: i for i, file_id in enumerate(file_ids)}
        store = _StoreBits(
            generation=generation,
            ids=np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)),
            files=np.fromiter((code[row[1]] for row in rows), dtype=np.int32, count=len(rows)),
            file_ids=file_ids,
            words=_as_words(b"".join(row[2] for row in rows), len(rows)),
        )
        with self._lock:
            self._cache[store_id] = store
            used = sum(s.nbytes for s in self._cache.values())
            while used > CACHE_BYTES and len(self._cache) > 1:
                used -= self._cache.popitem(last=False)[1].nbytes
        return store


def _nearest(ids: npt.NDArray[np.int64], distances: npt.NDArray[np.int64], count: int) -> list[int]:
    """The ids of the `count` smallest distances, ties going to the smaller id."""
    import numpy as np

    if len(ids) <= count:
        return [int(i) for i in ids]
    key = (distances << 40) | ids  # chunk ids stay far below 2**40
    return [int(k & ((1 << 40) - 1)) for k in np.partition(key, count - 1)[:count]]


def _postings_pay(
    db: sqlite3.Connection,
    query: list[str],
    keys: list[str],
    counts: dict[str, int],
    rows: dict[str, int],
) -> bool:
    """Whether ranking from the postings rows is cheaper than FTS5's bm25(): a row is one file's
    postings of a term, read from a page of its own (~1-2 µs a row in a table of 100k chunks in
    100 files, 13-22 µs in one of 25k files), where bm25() costs ~0.7-2.4 µs a matching chunk.
    So the postings are read when the query's rows hold `MIN_POSTINGS_PER_ROW` chunks each on
    average (counted over every store: an estimate); both rankings are the same. `counts` and
    `rows` are `_term_counts`'; prefix terms are counted here."""
    chunks = sum(counts.get(t, 0) for t in query if not keywords.is_prefix(t))
    read = sum(rows.get(t, 0) for t in query if not keywords.is_prefix(t))
    for term, key in zip(query, keys, strict=True):
        if keywords.is_prefix(term):
            found = db.execute(
                "SELECT count(*), coalesce(sum(chunks), 0) FROM vector_store_keyword_postings "
                "WHERE term >= ? AND term < ?",
                [key, chr(ord(key) + 1)],
            ).fetchone()
            read, chunks = read + int(found[0]), chunks + int(found[1])
    return chunks >= MIN_POSTINGS_PER_ROW * read


def _postings_ranking(
    db: sqlite3.Connection,
    store_ids: Sequence[str],
    file_ids: Collection[str] | None,
    query: list[str],
    keys: list[str],
    limit: int,
) -> Ranked:
    """The best `limit` chunks by FTS5's bm25() over the query terms (whose FTS5 tokens are
    `keys`), computed from the postings rows (`postings.bm25_top`) instead of by bm25() on
    each matching row. As FTS5's: N, the average length and each term's n are the whole
    table's (every store), the scope only decides which chunks are ranked; a prefix term's n
    counts the chunks holding any token it begins."""
    import numpy as np

    postings_table = "vector_store_keyword_postings"
    total, length = db.execute(
        f"SELECT coalesce(sum(chunks), 0), coalesce(sum(occurrences), 0) FROM {postings_table} "
        "WHERE term = ?",
        [postings.ALL_CHUNKS],
    ).fetchone()
    if not total:
        return []
    exact = sorted({k for t, k in zip(query, keys, strict=True) if not keywords.is_prefix(t)})
    counts = {
        str(term): int(n)
        for term, n in db.execute(
            f"SELECT term, sum(chunks) FROM {postings_table} "
            f"WHERE term IN ({_marks(len(exact))}) GROUP BY term",
            exact,
        )
    }
    stores = set(store_ids)
    scope = f"store_id IN ({_marks(len(stores))})"
    scope_params: list[str] = sorted(stores)
    if file_ids is not None:
        scope += f" AND file_id IN ({_marks(len(file_ids))})"
        scope_params += list(file_ids)
    scored: list[tuple[float, npt.NDArray[np.void]]] = []
    for term, key in zip(query, keys, strict=True):
        if keywords.is_prefix(term):
            every, scoped = [], []
            for store_id, file_id, blob in db.execute(
                f"SELECT store_id, file_id, postings FROM {postings_table} "
                "WHERE term >= ? AND term < ?",
                [key, chr(ord(key) + 1)],  # every token that begins with the character
            ):
                every.append(blob)
                if store_id in stores and (file_ids is None or file_id in file_ids):
                    scoped.append(blob)
            count = len(np.unique(postings.unpack(b"".join(every))["id"]))
            found = postings.prefix_postings(postings.unpack(b"".join(scoped)))
        else:
            blobs = db.execute(
                f"SELECT postings FROM {postings_table} WHERE term = ? AND {scope}",
                [key, *scope_params],
            )
            found = postings.unpack(b"".join(blob for (blob,) in blobs))
            count = counts.get(key, 0)
        scored.append((postings.idf(int(total), count), found))
    return postings.bm25_top(scored, int(length) / int(total), limit)


def _term_counts(db: sqlite3.Connection, query: list[str]) -> tuple[dict[str, int], dict[str, int]]:
    """Rows holding each (non-prefix) query term: FTS5's rows with that token in any column;
    and the postings rows of each (one per file holding it), for `_postings_pay`.

    From the postings rows' chunk counts (an index-only sum, ~0.1 ms for 100 files), which
    count the terms column only; that differs when a term is also some store's store-id token,
    so then from the fts5vocab table, which counts by walking the term's whole doclist (~4 ms a
    common term at 100k chunks), and no postings rows are counted."""
    exact = [t for t in query if not keywords.is_prefix(t)]
    if not exact:
        return {}, {}
    marks = _marks(len(exact))
    if any(_is_store_token(db, t) for t in exact):
        sql = f"SELECT term, doc, 0 FROM vector_store_chunks_fts_vocab WHERE term IN ({marks})"
    else:
        sql = (
            "SELECT term, sum(chunks), count(*) FROM vector_store_keyword_postings "
            f"WHERE term IN ({marks}) GROUP BY term"
        )
    found = db.execute(sql, exact).fetchall()
    return {str(t): int(n) for t, n, _ in found}, {str(t): int(r) for t, _, r in found}


def _is_store_token(db: sqlite3.Connection, term: str) -> bool:
    """Whether `term` is the store-id token (`store_token`) of an indexed store."""
    if not _STORE_TOKEN.fullmatch(term) or len(term) % 2 == 0:
        return False
    try:
        store_id = bytes.fromhex(term[1:]).decode()
    except UnicodeDecodeError:
        return False
    found = db.execute(
        "SELECT 1 FROM vector_store_index_stores WHERE store_id = ?", [store_id]
    ).fetchone()
    return found is not None


def _selective_terms(query: list[str], counts: dict[str, int], total: int) -> list[str]:
    """The query terms that can change a BM25 ranking.

    FTS5's idf, ln((N - n + 0.5) / (n + 0.5)), is floored at 1e-6 for a term in more than half
    the rows, so such a term adds nothing to a score; as an OR operand it would only make (nearly)
    every row a candidate to score. They are left out unless nothing else is left; terms no row
    has are left out too. One-character (prefix) terms are always kept.
    """
    if all(keywords.is_prefix(t) for t in query):
        return query
    present = [t for t in query if keywords.is_prefix(t) or counts.get(t, 0) > 0]
    selective = [t for t in present if keywords.is_prefix(t) or counts[t] <= total / 2]
    return selective or present


# Below this many chunks per postings row (files of a few chunks), FTS5's bm25() is cheaper.
MIN_POSTINGS_PER_ROW = 16
# FTS5's bm25() constants. Each matched term adds idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B *
# length / average length)) to a row's score: always less than idf * (K1 + 1).
BM25_K1 = 1.2
# Bounds are compared with this much room, against rounding.
_BOUND_SLACK = 1e-9
_STORE_TOKEN = re.compile(r"s[0-9a-f]+")


def _idf(total: int, count: int) -> float:
    """FTS5's idf of a term in `count` of `total` rows (floored as bm25() floors it)."""
    return max(math.log((total - count + 0.5) / (count + 0.5)), 1e-6)


def _pruned_ranking(
    query: list[str],
    counts: dict[str, int],
    total: int,
    limit: int,
    ranked: RankedQuery,
) -> Ranked:
    """The BM25 top `limit` of an OR query without scoring every row that has a common term.

    Exact (MaxScore pruning): with the terms in order of idf, a row holding none of the first
    j ("essential") terms scores less than the sum of the others' bounds, idf * (K1 + 1). So
    once the `limit`-th best score among the rows holding an essential term (scored over every
    term, by the same bm25() call) is at least that sum, no other row can enter the ranking.
    The first pass takes the fewest rarest terms that cover `limit` rows; if its `limit`-th
    score does not clear the bound, it tells how many terms the second pass needs (that
    score can only grow with more rows). Queries whose terms are all about as rare (where the
    bound is out of reach) are scored in one pass over every row, as without pruning.
    Frequent-word queries thus score the few rows of their rarest words, not most of the table.
    """
    exact = [t for t in query if not keywords.is_prefix(t)]
    if len(query) < 2 or len(exact) < len(query) or any(_STORE_TOKEN.fullmatch(t) for t in query):
        return ranked(None)  # prefix terms have no known count; store tokens count other rows
    ordered = sorted(query, key=lambda t: (counts[t], t))
    bounds = [_idf(total, counts[t]) * (BM25_K1 + 1) * (1 + _BOUND_SLACK) for t in ordered]
    rest = [sum(bounds[j:]) for j in range(len(ordered) + 1)]  # bound of a row without 0..j-1
    covered, first = 0, len(ordered)
    for j, term in enumerate(ordered):
        covered += counts[term]
        if covered >= limit:
            first = j + 1
            break
    # A row holding every term scores about the sum of their idfs (one occurrence each, at the
    # average length): when the other terms' bound is above that, pruning cannot pay off.
    typical = sum(_idf(total, counts[t]) for t in ordered)
    if first >= len(ordered) or rest[first] >= typical:
        return ranked(None)
    hits = ranked(ordered[:first])
    if len(hits) < limit:
        return ranked(None)
    if rest[first] < hits[-1][1]:
        return hits
    enough = next(
        j for j in range(first, len(ordered) + 1) if rest[j] < hits[-1][1] or j == len(ordered)
    )
    if enough >= len(ordered):
        return ranked(None)
    hits = ranked(ordered[:enough])
    return hits if len(hits) == limit and rest[enough] < hits[-1][1] else ranked(None)
