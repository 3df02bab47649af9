from __future__ import annotations

from assistantd.vector_stores.keywords import (
    fts5_query,
    query_terms,
    terms,
    tsquery_literal,
    tsvector_literal,
)


def test_latin_words_are_folded() -> None:
    assert terms("Hello, WORLD! naïve_case 42") == ["hello", "world", "naïve", "case", "42"]


def test_cjk_runs_become_bigrams_plus_a_final_unigram() -> None:
    assert terms("東京都") == ["東京", "京都", "都"]
    assert terms("寺") == ["寺"]
    assert terms("Tokyoは東京") == ["tokyo", "は東", "東京", "京"]
    assert terms("カタカナ、ひらがな") == [
        "カタ",
        "タカ",
        "カナ",
        "ナ",
        "ひら",
        "らが",
        "がな",
        "な",
    ]


def test_query_terms_drop_stopwords_and_repeats() -> None:
    assert query_terms("What is the capital of the country?") == ["capital", "country"]
    assert query_terms("the the") == ["the"]  # nothing else left: keep them
    assert query_terms("京都の寺") == ["京都", "都の", "の寺"]  # no trailing unigram
    assert query_terms("寺") == ["寺"]


def test_query_syntaxes() -> None:
    assert fts5_query(["京都", "寺", "rocket"]) == '"京都" OR "寺"* OR "rocket"'
    assert tsquery_literal(["京都", "寺"]) == "'京都' | '寺':*"
    assert tsvector_literal("a b a 東京") == "'a':1,3 'b':2 '東京':4 '京':5"
