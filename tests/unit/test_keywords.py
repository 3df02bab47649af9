from __future__ import annotations

import pytest

from assistantd.file_search.keywords import (
    fts5_query,
    query_terms,
    rewrite_query,
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


@pytest.mark.parametrize(
    ("request_text", "query"),
    [
        ("What is the refund policy for damaged items?", "refund policy damaged items"),
        ("Can you tell me about the Q3 roadmap?", "Q3 roadmap"),
        ("I'm looking for a winter jacket under $100", "winter jacket under 100"),
        ("the", "the"),  # nothing would be left: no rewrite
        ("東京の寺はどこ？", "東京の寺はどこ？"),  # no spaces to find words by: kept
    ],
)
def test_rewrite_query_keeps_what_a_request_is_about(request_text: str, query: str) -> None:
    assert rewrite_query(request_text) == query
