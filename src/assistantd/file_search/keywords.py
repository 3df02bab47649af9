"""Keyword terms for full-text search, the same on SQLite FTS5 and PostgreSQL tsvector.

Owns how text becomes searchable terms: runs of letters and digits become lower-cased words;
runs of CJK characters (Japanese kana and kanji, Chinese, Korean), which have no spaces between
words, become overlapping character bigrams ("東京都" → "東京", "京都"), the classic approach of
CJK search engines (Lucene's CJKBigramFilter). Indexed runs also end with their last character
alone ("都"), so every character starts some term and a one-character query ("寺") is a prefix
query that finds it anywhere. A Japanese query thus matches wherever its bigrams occur, on both
databases, with no word segmenter.
Queries also drop a short list of English function words so an OR query stays selective.
It does not run SQL; the index turns the terms into an FTS5 MATCH or a tsquery.
"""

from __future__ import annotations

import re

_CJK_CHARS = (
    "\u3040-\u309f"  # hiragana
    "\u30a0-\u30ff"  # katakana
    "\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # kanji / hanzi
    "\uac00-\ud7af"  # hangul syllables
    "\uff66-\uff9f"  # half-width katakana
)
# A CJK run, or a run of word characters that are not CJK (and not '_').
_TOKEN = re.compile(rf"[{_CJK_CHARS}]+|(?:(?![{_CJK_CHARS}])[^\W_])+")
_CJK_RUN = re.compile(rf"[{_CJK_CHARS}]")
_WORD = re.compile(r"[^\W_]+")

MAX_QUERY_TERMS = 64

STOPWORDS = frozenset(
    """a an and are as at be been but by can could did do does for from had has have how i if
    in into is it its of on or our so than that the their them then there these they this to
    was we were what when where which who whom why will with would you your""".split()  # noqa: SIM905  (a word list reads best as text)
)


def terms(text: str) -> list[str]:
    """The indexed terms of `text`, in order, repeats kept (their counts feed the ranking)."""
    return _terms(text, trailing_unigram=True)


def _terms(text: str, *, trailing_unigram: bool) -> list[str]:
    if not _CJK_RUN.search(text):  # fast path: no CJK, so words only
        return _WORD.findall(text.casefold())
    out: list[str] = []
    for match in _TOKEN.finditer(text):
        token = match.group()
        if _CJK_RUN.match(token):
            if len(token) == 1:
                out.append(token)
            else:
                out.extend(token[i : i + 2] for i in range(len(token) - 1))
                if trailing_unigram:
                    out.append(token[-1])
        else:
            out.append(token.casefold())
    return out


def query_terms(text: str) -> list[str]:
    """Distinct search terms of a query, stopwords dropped (unless nothing else is left)."""
    distinct = list(dict.fromkeys(_terms(text, trailing_unigram=False)))
    kept = [t for t in distinct if t not in STOPWORDS] or distinct
    return kept[:MAX_QUERY_TERMS]


# Words that frame a request rather than say what it is about ("Can you tell me about …").
_FILLERS = STOPWORDS | frozenset(
    """about any anything please find search show tell me my give look looking know want need
    something some information info details documents document file files i'm i'd im""".split()  # noqa: SIM905
)


def rewrite_query(text: str) -> str:
    """A request rewritten as a search query: the words that say what it is about, in order.

    `rewrite_query: true` of the search endpoint. OpenAI's rewrite is done by a model; this one
    is deterministic and local: it drops framing and function words and punctuation
    ("What is the refund policy for damaged items?" → "refund policy damaged items"). CJK text,
    which has no spaces to find words by, is kept as it is. Nothing left means no rewrite.
    """
    if _CJK_RUN.search(text):
        return text.strip()
    words = [w for w in re.findall(r"[^\W_]+(?:['’][^\W_]+)*", text)]
    kept = [w for w in words if w.casefold().replace("’", "'") not in _FILLERS]
    return " ".join(kept) or text.strip()


def is_prefix(term: str) -> bool:
    """One-character CJK query terms match as prefixes (see the module docstring)."""
    return len(term) == 1 and _CJK_RUN.match(term) is not None


def fts5_query(query: list[str]) -> str:
    """An FTS5 MATCH expression: any of the terms (terms hold only letters and digits)."""
    return " OR ".join(f'"{t}"*' if is_prefix(t) else f'"{t}"' for t in query)


def tsvector_literal(text: str, max_positions: int = 255) -> str:
    """A PostgreSQL tsvector literal of the terms with their positions (no parser involved)."""
    positions: dict[str, list[int]] = {}
    for pos, term in enumerate(terms(text), start=1):
        slots = positions.setdefault(term, [])
        if len(slots) < max_positions:
            slots.append(min(pos, 16383))  # tsvector positions stop at 16383
    return " ".join(f"'{t}':{','.join(map(str, p))}" for t, p in positions.items())


def tsquery_literal(query: list[str]) -> str:
    """A PostgreSQL tsquery literal matching any of the terms."""
    return " | ".join(f"'{t}':*" if is_prefix(t) else f"'{t}'" for t in query)
