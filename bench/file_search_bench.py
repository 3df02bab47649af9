"""File-search benchmark: ingestion throughput against the embedder's own, and search latency.

    PYTHONPATH=src:. python bench/file_search_bench.py [--postgres URL] [--quick]

1. Ingestion of 1,000 files of 10 KB (parse → chunk (auto: 800/400) → embed → index) as the
   server's `Ingestor` runs it (FILE_SLOTS files in flight, EMBEDDING_SLOTS embedding requests
   at once) with a mock upstream embedder (a fixed delay per request, like a remote
   `/embeddings`), beside that embedder's own throughput on the same chunks with the same
   EMBEDDING_SLOTS requests at once; then the same comparison for the local default embedder
   on a smaller sample (it does ~12 chunks of 800 tokens per second on 2 cores).
2. Search latency (hybrid, keyword, vector; the query embedding is computed beforehand and not
   timed) at 10k and 100k chunks in one store, on SQLite (and PostgreSQL with --postgres).
   Vectors are 512-d like the default embedder's, clustered by topic (not uniform noise); the
   brute-force Hamming pass and exact re-scoring do the same work whatever the vectors hold.
   Two query sets: "zipf" (6 words as frequent as in the text: many are in a large share of the
   chunks, the hard case for OR keyword queries) and "content" (4 words from below the 200 most
   frequent, like the content words that remain of a question once stopwords are dropped).

Prints figures; asserts nothing about time. Loops are bounded by the arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from assistantd.db.engine import Database
from assistantd.file_search import index
from assistantd.file_search.chunking import AUTO, Chunk
from assistantd.file_search.embeddings import Embedder, LimitedEmbedder, LocalEmbedder
from assistantd.file_search.engine import FileSearchEngine
from assistantd.file_search.index.rows import chunk_rows
from assistantd.file_search.retrieval import prepare
from assistantd.file_search.sqlite_extensions import (
    install_sqlite_extensions,
    register_sqlite_extensions,
)
from assistantd.vector_stores.ingestion import EMBEDDING_SLOTS, FILE_SLOTS
from tests.file_search.retrieval_set import distractor_documents
from tests.file_search.schema import recreate_schema

T = TypeVar("T")
DIMENSIONS = 512


class MockUpstreamEmbedder:
    """Answers like a remote `/embeddings`: a fixed delay per request of up to 64 texts."""

    name = "bench:mock-upstream"
    dimensions = DIMENSIONS

    def __init__(self, delay_seconds: float = 0.05, batch_size: int = 64) -> None:
        self._delay = delay_seconds
        self._batch = batch_size
        self._rng = np.random.default_rng(0)

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for i in range(0, len(texts), self._batch):
            await asyncio.sleep(self._delay)
            n = len(texts[i : i + self._batch])
            vectors.extend(self._rng.standard_normal((n, DIMENSIONS), dtype=np.float32).tolist())
        return vectors


def _vocabulary() -> list[str]:
    words = " ".join(distractor_documents().values()).split()
    return [w for w in dict.fromkeys(words) if w.isalpha()]


def make_texts(count: int, words_each: int, seed: int) -> list[str]:
    """Zipf-distributed words from a real vocabulary (so FTS posting lists look natural)."""
    vocabulary = _vocabulary()
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, len(vocabulary) + 1)
    picks = rng.choice(len(vocabulary), size=(count, words_each), p=weights / weights.sum())
    return [" ".join(vocabulary[j] for j in row) for row in picks]


def make_content_queries(count: int, words_each: int, seed: int) -> list[str]:
    """Queries of content words: drawn uniformly from below the 200 most frequent words."""
    vocabulary = _vocabulary()[200:]
    rng = np.random.default_rng(seed)
    picks = rng.choice(len(vocabulary), size=(count, words_each))
    return [" ".join(vocabulary[j] for j in row) for row in picks]


def make_files(count: int, kilobytes: int) -> list[bytes]:
    words = kilobytes * 1024 // 7  # ~7 bytes per word with its space
    return [text.encode()[: kilobytes * 1024] for text in make_texts(count, words, seed=1)]


async def _database(url: str | None, directory: Path, *, keep: bool = False) -> Database:
    """A fresh index schema, on the server's own engine setup (SQLite runs on the loop); with
    `keep`, the database as it is (its schema migrated beforehand, e.g. by `alembic upgrade`)."""
    register_sqlite_extensions()
    db = Database(url or f"sqlite+aiosqlite:///{directory / 'bench.db'}")
    install_sqlite_extensions(db.engine)
    if not keep:
        await recreate_schema(db.engine)
    return db


async def _stored(engine: AsyncEngine) -> int:
    """Chunks already in the search store (a kept database is filled only up to each size)."""
    async with engine.connect() as conn:
        found = await conn.execute(
            text("SELECT count(*) FROM vector_store_chunks WHERE store_id = 'vs_search'")
        )
        return int(found.scalar_one())


async def _bounded(
    jobs: Sequence[T], work: Callable[[T], Awaitable[None]], concurrency: int
) -> float:
    """Run `work(job)` for every job, `concurrency` at a time; returns the elapsed seconds."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(job: T) -> None:
        async with semaphore:
            await work(job)

    start = time.perf_counter()
    await asyncio.gather(*(one(job) for job in jobs))
    return time.perf_counter() - start


async def bench_ingestion(
    label: str, embedder: Embedder, files: list[bytes], url: str | None, directory: Path
) -> None:
    chunked: list[list[Chunk]] = [prepare(data, "f.txt", AUTO) for data in files]
    total = sum(len(chunks) for chunks in chunked)
    await embedder.embed(["warm up"])
    embedder = LimitedEmbedder(embedder, EMBEDDING_SLOTS)

    async def embed_only(chunks: list[Chunk]) -> None:
        await embedder.embed([c.text for c in chunks])

    embed_seconds = await _bounded(chunked, embed_only, FILE_SLOTS)
    db = await _database(url, directory)
    numbered = list(enumerate(files))
    search = FileSearchEngine(db, embedder)

    async def ingest(job: tuple[int, bytes]) -> None:
        number, data = job
        await search.ingest_file("vs_bench", f"file-{number}", data, "f.txt")

    ingest_seconds = await _bounded(numbered, ingest, FILE_SLOTS)
    search.index.close()
    await db.dispose()
    embed_rate, ingest_rate = total / embed_seconds, total / ingest_seconds
    print(
        f"ingestion [{label}, {db.engine.dialect.name}] {len(files)} files, {total} chunks: "
        f"embedder alone {embed_rate:,.0f} chunks/s, ingestion {ingest_rate:,.0f} chunks/s "
        f"({ingest_rate / embed_rate:.2f}x)"
    )


async def _fill(
    engine: AsyncEngine, chunk_index: index.ChunkIndex, target: int, have: int, words: int
) -> None:
    """Add chunks to store vs_search until it holds `target`, 1,000 per file."""
    rng = np.random.default_rng(have)
    centers = rng.standard_normal((64, DIMENSIONS)).astype(np.float32)
    for first in range(have, target, 1000):
        texts = make_texts(1000, words, seed=first)
        topics = rng.integers(0, 64, 1000)
        vectors = centers[topics] + 0.8 * rng.standard_normal((1000, DIMENSIONS), np.float32)
        chunks = [Chunk(i, 0, len(t), t, words) for i, t in enumerate(texts)]
        async with engine.begin() as conn:
            rows = chunk_rows(chunks, vectors.tolist())
            await chunk_index.add_rows(conn, "vs_search", f"file-{first}", rows, embedder="bench")


async def bench_search(engine: AsyncEngine, sizes: list[int], queries: int, words: int) -> None:
    rng = np.random.default_rng(7)
    query_vectors = rng.standard_normal((queries, DIMENSIONS)).astype(np.float32).tolist()
    have = await _stored(engine)
    chunk_index = index.ChunkIndex()  # the server's FileSearchEngine keeps one per database
    for size in sizes:
        start = time.perf_counter()
        await _fill(engine, chunk_index, size, have, words)
        have = max(have, size)
        print(f"search [{engine.dialect.name}] {size:,} chunks (filled in "
              f"{time.perf_counter() - start:.0f} s, {words} words each), k=20:")  # fmt: skip
        query_sets = {
            "zipf": make_texts(queries, 6, seed=99),  # as frequent as in the text
            "content": make_content_queries(queries, 4, seed=98),
        }
        runs: list[tuple[str, index.SearchMode]] = [
            ("zipf", "hybrid"), ("zipf", "keyword"), ("zipf", "vector"),
            ("content", "hybrid"), ("content", "keyword"),
        ]  # fmt: skip
        for kind, mode in runs:
            timings = []
            async with engine.connect() as conn:
                for text, vector in zip(query_sets[kind], query_vectors, strict=True):
                    begin = time.perf_counter()
                    await chunk_index.search(
                        conn, ["vs_search"], query_text=text, query_vector=vector, k=20, mode=mode
                    )
                    timings.append((time.perf_counter() - begin) * 1000)
            p50 = statistics.median(timings)
            p95 = statistics.quantiles(timings, n=20)[-1]
            print(
                f"  {mode:8} {kind:8} queries: p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   ({queries})"
            )
    chunk_index.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--file-kb", type=int, default=10)
    parser.add_argument("--local-files", type=int, default=60)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--chunk-words", type=int, default=200)
    parser.add_argument("--postgres", help="a postgresql+asyncpg:// URL (its tables are reset)")
    parser.add_argument("--quick", action="store_true", help="small sizes, to smoke-test")
    parser.add_argument("--skip-ingestion", action="store_true")
    parser.add_argument("--skip-search", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true", help="with --postgres")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="search the databases as they are (migrated beforehand), filling only what is "
        "missing, so one fill serves many runs; SQLite then needs --sqlite-file",
    )
    parser.add_argument("--sqlite-file", type=Path, help="the SQLite database file to use")
    args = parser.parse_args()
    if args.quick:
        args.files, args.local_files, args.sizes, args.queries = 50, 5, "2000", 20
    sizes = [int(s) for s in args.sizes.split(",")]
    files = make_files(args.files, args.file_kb)
    urls = [*([] if args.skip_sqlite else [None]), *([args.postgres] if args.postgres else [])]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for url in [] if args.skip_ingestion else urls:
            await bench_ingestion("mock upstream", MockUpstreamEmbedder(), files, url, directory)
            await bench_ingestion(
                "local USE-m-v3", LocalEmbedder(), files[: args.local_files], url, directory
            )
        for url in [] if args.skip_search else urls:
            if url is None and args.sqlite_file is not None:
                url = f"sqlite+aiosqlite:///{args.sqlite_file}"
            db = await _database(url, directory, keep=args.keep)
            await bench_search(db.engine, sizes, args.queries, args.chunk_words)
            await db.dispose()


if __name__ == "__main__":
    asyncio.run(main())
