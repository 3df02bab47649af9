"""SQLite keyword ranking from the postings rows is FTS5's bm25() itself: the same chunks in the
same order with the same scores to the last bit, over several stores, with file filters, after
a file is replaced or deleted, for one-character (prefix) Japanese terms and for terms FTS5
folds (diacritics, full-width letters); the postings are FTS5's own tokens (migration 0440's
backfill reads them from FTS5's index and must find what the index wrote)."""

from __future__ import annotations

import random
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from assistantd.file_search import index, keywords
from assistantd.file_search.chunking import Chunk
from assistantd.file_search.index import fts5_terms, sqlite_search
from tests.file_search import schema
from tests.file_search.conftest import add_file, close_file_search, index_of, open_engine

WORDS = ["river", "stone", "market", "window", "garden", "letter", "lantern", "harbour"]
JAPANESE = ["東京都", "京都府", "大阪", "東北", "都市", "寺院"]
# FTS5 folds these (é → e, Ａ → ａ, ǅ → ǆ) or keeps them as they are.
FOLDED = ["café", "Cafe", "naïve", "naive", "Ａbc", "ǅungla", "straße", "x𠀀y", "ĳssel"]
STORE_TOKEN = sqlite_search.store_token("vs_a")
QUERIES = [
    "lantern river stone",
    "river stone market window garden letter",
    "harbour",
    "東京の寺",  # bigrams and a one-character prefix term
    "都",
    "w3 w7 market",
    "cafe naive abc",
    "café ａbc ǆungla strasse",
    f"{STORE_TOKEN} harbour",  # a store's own token: counted as FTS5 counts it
]


def _files(seed: int, count: int) -> dict[str, list[Chunk]]:
    rng = random.Random(seed)
    files = {}
    for f in range(count):
        chunks = []
        for i in range(rng.randint(1, 30)):
            words = rng.choices([f"w{j}" for j in range(40)], k=rng.randint(0, 60))
            words += rng.choices(WORDS, k=rng.randint(0, 6))
            words += rng.choices(JAPANESE, k=rng.randint(0, 3))
            words += rng.choices([*FOLDED, STORE_TOKEN], k=rng.randint(0, 2))
            rng.shuffle(words)
            body = " ".join(words)
            chunks.append(Chunk(i, 0, len(body), body, len(words)))
        files[f"file-{f}"] = chunks
    return files


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = await open_engine("sqlite", tmp_path)
    for store, seed in (("vs_a", 11), ("vs_b", 12)):
        for file_id, chunks in _files(seed, 6).items():
            async with engine.begin() as conn:
                vectors = [[1.0, 0.0]] * len(chunks)
                await add_file(conn, store, file_id, chunks, vectors, embedder="t")
    async with engine.begin() as conn:  # a replaced file, a deleted one, a term FTS5 cuts
        body = f"lantern lantern 東京 river {'q' * 40000}"
        chunk = Chunk(0, 0, len(body), body, 5)
        await add_file(conn, "vs_a", "file-1", [chunk], [[1.0, 0.0]], embedder="t")
        await index.delete_file(conn, "vs_a", "file-2")
    yield engine
    await close_file_search(engine)
    await engine.dispose()


@pytest.mark.parametrize("stores", [["vs_a"], ["vs_a", "vs_b"]])
@pytest.mark.parametrize("files", [None, {"file-0", "file-1", "file-4"}])
@pytest.mark.parametrize("query", QUERIES)
async def test_postings_rank_exactly_as_fts5_bm25(
    sqlite_engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    query: str,
    files: set[str] | None,
    stores: list[str],
) -> None:
    async with sqlite_engine.connect() as conn:
        searcher = index_of(conn)._sqlite_searcher(conn)
    terms = keywords.query_terms(query)
    calls = []
    real = sqlite_search._postings_ranking

    def spy(*args: object) -> sqlite_search.Ranked:
        calls.append(args)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(sqlite_search, "_postings_ranking", spy)
    monkeypatch.setattr(sqlite_search, "MIN_POSTINGS_PER_ROW", 0)  # however small the files
    got = searcher._keyword(stores, files, terms, 10)
    assert len(calls) == 1, "ranked from the postings"
    expected = searcher._keyword(stores, files, terms, 10, from_postings=False)
    assert expected, query
    assert got == expected, query  # the very same floats


async def test_files_of_a_few_chunks_rank_through_bm25(
    sqlite_engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One postings row per file and term: with files of a few chunks (here 1-30), reading the
    rows costs more than bm25() on their chunks, so FTS5 ranks; with big files, the postings."""
    async with sqlite_engine.connect() as conn:
        searcher = index_of(conn)._sqlite_searcher(conn)
    calls = []
    real = sqlite_search._postings_ranking

    def spy(*args: object) -> sqlite_search.Ranked:
        calls.append(args)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(sqlite_search, "_postings_ranking", spy)
    terms = keywords.query_terms("lantern")
    assert searcher._keyword(["vs_a"], None, terms, 10)
    assert not calls
    bodies = ["lantern w1 w2" if i % 3 == 0 else "w5 w6" for i in range(1000)]
    rows = [Chunk(i, 0, len(b), b, 3) for i, b in enumerate(bodies)]
    async with sqlite_engine.begin() as conn:
        await add_file(conn, "vs_c", "file-big", rows, [[1.0, 0.0]] * len(rows), embedder="t")
    for stores in (["vs_c"], ["vs_a", "vs_c"]):
        got = searcher._keyword(stores, None, terms, 10)
        assert got == searcher._keyword(stores, None, terms, 10, from_postings=False)
    assert calls


async def _postings_rows(engine: AsyncEngine) -> list[tuple[object, ...]]:
    async with engine.connect() as conn:
        found = await conn.execute(
            text(
                "SELECT store_id, file_id, term, chunks, occurrences, postings "
                "FROM vector_store_keyword_postings ORDER BY store_id, file_id, term"
            )
        )
        return [tuple(row) for row in found]


async def test_the_backfill_reads_from_fts5_what_the_index_writes(
    sqlite_engine: AsyncEngine,
) -> None:
    """Migration 0440 packs, from FTS5's own index, the very postings the index writes (their
    terms tokenized by `fts5_terms`), on a database with files."""
    written = await _postings_rows(sqlite_engine)
    async with sqlite_engine.begin() as conn:
        await conn.run_sync(schema._run, [schema.SQLITE_POSTINGS], "downgrade")
        await conn.run_sync(schema._run, [schema.SQLITE_POSTINGS], "upgrade")
    assert len(written) > 100
    assert {row[2] for row in written} >= {"cafe", "ａbc", "ǆungla", "q" * 32768, ""}
    assert await _postings_rows(sqlite_engine) == written


def _word_characters(rng: random.Random) -> list[str]:
    """A sample of the characters a keyword term can hold (letters and digits of any script)."""
    pool = [
        chr(c)
        for c in range(0x80, sys.maxunicode + 1)
        if not 0xD800 <= c < 0xE000 and keywords._WORD.fullmatch(chr(c))
    ]
    return rng.sample(pool, 4000)


def test_fts5_terms_are_the_tokens_fts5_makes() -> None:
    """`fts5_terms` against FTS5 itself, on texts of terms made of random letters and digits of
    every script (and ASCII), as the index writes them: the same tokens in the same order."""
    rng = random.Random(4)
    characters = _word_characters(rng) + list("abcdefghijklmnopqrstuvwxyz0123456789")
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE VIRTUAL TABLE t USING fts5(x, tokenize = '{fts5_terms.TOKENIZER}')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    chunks = []
    for row in range(1, 301):
        words = ["".join(rng.choices(characters, k=rng.randint(1, 6))) for _ in range(20)]
        terms = keywords.terms(" ".join(words))
        db.execute("INSERT INTO t (rowid, x) VALUES (?, ?)", [row, " ".join(terms)])
        chunks.append(terms)
    made: dict[int, list[tuple[int, str]]] = {}
    for term, doc, offset in db.execute("SELECT term, doc, offset FROM v"):
        made.setdefault(doc, []).append((offset, term))
    for row, terms in enumerate(chunks, start=1):
        assert fts5_terms.chunk_tokens(terms) == [t for _, t in sorted(made.get(row, []))]
        assert [t for term in terms for t in fts5_terms.tokens(term)] == fts5_terms.chunk_tokens(
            terms
        )
