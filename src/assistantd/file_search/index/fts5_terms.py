"""What SQLite FTS5's tokenizer makes of keyword terms, so postings can be keyed as FTS5 keys them.

The FTS5 table (migration 0100) indexes `" ".join(keywords.terms(text))` with `unicode61
remove_diacritics 2`. An ASCII term (`keywords` casefolds: lower-case letters and digits) is one
FTS5 token, itself.
Other characters FTS5 folds on its own ("é" becomes "e", "Ａ" becomes "ａ"), drops (combining
marks) or treats as separators (letters of Unicode versions newer than its tables), one
character at a time, without context. Rather than copy its tables, FTS5 itself is asked once per
character: an in-memory FTS5 table with the same tokenizer indexes "a<c>a" and tells which
token(s) came out. Tokens longer than FTS5_MAX_TOKEN_SIZE bytes are cut there, as FTS5 cuts
them (a cut inside a character drops that character).

`tokens(term)` is then exactly the FTS5 tokens of a term (checked against FTS5 itself by
`tests/file_search/test_keyword_bm25.py`), and `chunk_tokens` those of a chunk's terms.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Sequence

TOKENIZER = "unicode61 remove_diacritics 2"  # migration 0100's
MAX_TOKEN_BYTES = 32768  # FTS5_MAX_TOKEN_SIZE
_PROBE_EDGE = "a"

_lock = threading.Lock()
_probe: sqlite3.Connection | None = None
# Per non-ASCII character: what FTS5 folds it to ("" when dropped), or None for a separator.
_folds: dict[str, str | None] = {}


def _connection() -> sqlite3.Connection:
    global _probe
    if _probe is None:
        probe = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        probe.execute(f"CREATE VIRTUAL TABLE probe USING fts5(x, tokenize = '{TOKENIZER}')")
        probe.execute("CREATE VIRTUAL TABLE probe_instance USING fts5vocab(probe, 'instance')")
        _probe = probe
    return _probe


def _learn(characters: Iterable[str]) -> None:
    """Ask FTS5 what it does with each of `characters` (with the lock held)."""
    unknown = sorted(set(characters) - _folds.keys())
    if not unknown:
        return
    probe = _connection()
    probe.executemany(
        "INSERT INTO probe (rowid, x) VALUES (?, ?)",
        [(i, f"{_PROBE_EDGE}{c}{_PROBE_EDGE}") for i, c in enumerate(unknown, start=1)],
    )
    found: dict[int, list[tuple[int, str]]] = {}
    for term, doc, offset in probe.execute("SELECT term, doc, offset FROM probe_instance"):
        found.setdefault(int(doc), []).append((int(offset), str(term)))
    probe.execute("DELETE FROM probe")
    for i, character in enumerate(unknown, start=1):
        out = [term for _, term in sorted(found.get(i, []))]
        if out == [_PROBE_EDGE, _PROBE_EDGE]:
            _folds[character] = None
        elif len(out) == 1 and out[0].startswith(_PROBE_EDGE) and out[0].endswith(_PROBE_EDGE):
            _folds[character] = out[0][1:-1]
        else:  # never seen: fail loudly rather than index what FTS5 would not find
            raise RuntimeError(f"Unexpected FTS5 tokens {out!r} for {character!r}.")


def _cut(token: str) -> str:
    data = token.encode()
    if len(data) <= MAX_TOKEN_BYTES:
        return token
    return data[:MAX_TOKEN_BYTES].decode("utf-8", "ignore")


def _fold(term: str) -> tuple[str, ...]:
    """FTS5's tokens of a non-ASCII term (with the lock held, its characters learnt)."""
    out: list[str] = []
    current: list[str] = []
    for character in term:
        fold = _folds[character] if not character.isascii() else character
        if fold is None:
            out.append("".join(current))
            current = []
        else:
            current.append(fold)
    out.append("".join(current))
    return tuple(_cut(token) for token in out if token)


def tokens(term: str) -> tuple[str, ...]:
    """The FTS5 tokens of one term (one, itself, for every ASCII term)."""
    if term.isascii():
        return (_cut(term),)
    with _lock:
        _learn(c for c in term if not c.isascii())
        return _fold(term)


def chunk_tokens(terms: Sequence[str]) -> list[str]:
    """The FTS5 tokens of a chunk's terms, in order (what FTS5 indexes for the chunk)."""
    if " ".join(terms).isascii() and max(map(len, terms), default=0) <= MAX_TOKEN_BYTES:
        return list(terms)
    with _lock:
        _learn(c for term in terms if not term.isascii() for c in term if not c.isascii())
        out: list[str] = []
        for term in terms:
            out.extend((_cut(term),) if term.isascii() else _fold(term))
        return out
