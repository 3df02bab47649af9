"""Token counting: model → encoding mapping and message overhead."""

from __future__ import annotations

import subprocess
import sys

import pytest

from assistantd import tokens


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o", "o200k_base"),
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-4.1-nano", "o200k_base"),
        ("o1", "o200k_base"),
        ("o3-mini", "o200k_base"),
        ("o4-mini", "o200k_base"),
        ("gpt-5", "o200k_base"),
        ("openai/gpt-4o", "o200k_base"),
        ("gpt-4", "cl100k_base"),
        ("gpt-4-turbo", "cl100k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("llama3.1:8b", "o200k_base"),
        (None, "o200k_base"),
    ],
)
def test_encoding_for_model(model: str | None, encoding: str) -> None:
    assert tokens.encoding_for_model(model).name == encoding


def test_count_tokens() -> None:
    assert tokens.count_tokens("") == 0
    assert tokens.count_tokens("hello world", "gpt-4o") == 2
    assert tokens.count_tokens("hello world", "gpt-3.5-turbo") == 2
    assert tokens.count_tokens("<|endoftext|>", "gpt-4") > 1  # special tokens are plain text


def test_count_messages_overheads() -> None:
    # The cookbook's arithmetic: 3 per message + role + content, + 3 for the reply priming.
    assert tokens.count_messages([{"role": "user", "content": "hello world"}], "gpt-4o") == 9
    assert tokens.count_messages([], "gpt-4o") == 3
    named = tokens.count_messages([{"role": "user", "content": "hi", "name": "bob"}], "gpt-4o")
    assert named == tokens.count_messages([{"role": "user", "content": "hi"}], "gpt-4o") + 2
    parts = [{"type": "text", "text": "hello world"}, {"type": "image_url", "image_url": {}}]
    with_image = tokens.count_messages([{"role": "user", "content": parts}], "gpt-4o")
    assert with_image == 9 + tokens.IMAGE_TOKENS
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    assistant = {"role": "assistant", "content": None, "tool_calls": [call]}
    tool = {"role": "tool", "tool_call_id": "call_1", "content": "42"}
    assert tokens.count_messages([assistant, tool], "gpt-4o") > 2 * tokens.TOKENS_PER_MESSAGE


def test_long_texts_are_counted_once_and_the_cache_is_bounded() -> None:
    text = " ".join(f"word{i}" for i in range(400))
    exact = len(tokens.get_encoding("o200k_base").encode_ordinary(text))
    assert tokens.count_tokens(text, "gpt-4o") == exact
    assert tokens.count_tokens(text, "gpt-4o") == exact  # from the cache
    # per encoding: the same text counts differently with gpt-4's
    assert tokens.count_tokens(text, "gpt-4") == len(
        tokens.get_encoding("cl100k_base").encode_ordinary(text)
    )
    small = tokens._CountCache(limit=3 * len(text))
    texts = [f"{text} {n}" for n in range(5)]
    counts = [small.count("o200k_base", t) for t in texts]
    assert counts == [len(tokens.get_encoding("o200k_base").encode_ordinary(t)) for t in texts]
    assert len(small._counts) == 2  # the oldest dropped past the limit (in characters)
    assert small._chars <= 3 * len(text)
    assert small.count("o200k_base", texts[-1]) == counts[-1]


def test_counts_are_the_full_encodings_exactly() -> None:
    texts = [
        "日本語のテキストです。漢字、ひらがな、カタカナ。",
        "emoji 😀🎉 and accents éàü ßœ, 'quotes' 've 's\r\n\t  trailing   ",
        "def f(x):\n    return x ** 2  # code\n\n\n",
        "lone \ud800 surrogate \udfff here",  # replaced by U+FFFD, as encode_ordinary does
        " " * 300 + "x" + "\n" * 200,
        "".join(chr(c) for c in range(32, 3000, 7)),
    ]
    for name in ("o200k_base", "cl100k_base"):
        encoding = tokens.get_encoding(name)
        for text in texts:
            assert tokens._count(name, text) == len(encoding.encode_ordinary(text)), (name, text)


def test_texts_past_the_wrappers_limits_are_counted() -> None:
    # bpe_openai's Encoding refuses 1M characters (ValueError) and 200k tokens; a count never
    # fails: a thread that large is what truncation is for.
    assert tokens.count_tokens(" word" * 250_000, "gpt-4o") == 250_000


def test_counting_neither_imports_the_package_nor_builds_unused_encodings() -> None:
    # In a fresh interpreter: importing bpe_openai builds every encoding's rank tables as
    # Python dicts (+66 MB); counting needs only the compiled tokenizer of one encoding.
    script = """
import sys
from assistantd import tokens
tokens.preload()
assert tokens.count_tokens("hello world", "gpt-4o") == 2
assert tokens.is_loaded("o200k_base") and not tokens.is_loaded("cl100k_base")
assert tokens.count_tokens("hello world", "gpt-4") == 2
assert tokens.is_loaded("cl100k_base")
assert "bpe_openai" not in sys.modules, "the package was imported"
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
