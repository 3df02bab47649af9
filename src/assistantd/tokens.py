"""Token counting shared by the run executor and file search.

Owns the one mapping from a model name to its BPE encoding (via `bpe_openai`, a tiktoken-
compatible tokenizer that ships its tables, so nothing is downloaded). It must not know about
messages, prompts or chunks: callers count whatever text they build.

Mapping: `o200k_base` for the gpt-4o / gpt-4.1 / o1 / o3 / o4 / gpt-5 families,
`cl100k_base` for gpt-4 and gpt-3.5 (and OpenAI's text-embedding-* models). Unknown names
(local or upstream models we cannot know) fall back to `o200k_base`, the encoding of every
current OpenAI model, which is a fair estimate for other modern tokenizers too.
"""

from __future__ import annotations

import warnings
from functools import cache
from typing import Protocol

# bpe_openai 0.1.4 reads its rank tables with importlib.resources.open_binary, deprecated since
# Python 3.11; harmless, and it must not trip warnings-as-errors in tests.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import bpe_openai

DEFAULT_ENCODING = "o200k_base"

# Checked in order; the first matching prefix wins, so longer/more specific names come first.
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("gpt-4o", "o200k_base"),
    ("gpt-4.1", "o200k_base"),
    ("gpt-4.5", "o200k_base"),
    ("gpt-5", "o200k_base"),
    ("chatgpt-4o", "o200k_base"),
    ("o1", "o200k_base"),
    ("o3", "o200k_base"),
    ("o4", "o200k_base"),
    ("gpt-4", "cl100k_base"),
    ("gpt-3.5", "cl100k_base"),
    ("gpt-35", "cl100k_base"),
    ("text-embedding-", "cl100k_base"),
)


class Encoding(Protocol):
    """The part of the tiktoken-style encoding API this project relies on."""

    name: str

    def encode_ordinary(self, text: str) -> list[int]: ...

    def decode(self, tokens: list[int]) -> str: ...

    def decode_single_token_bytes(self, token: int) -> bytes: ...


def encoding_name_for_model(model: str | None) -> str:
    """The encoding name for `model`; `o200k_base` when unknown or None."""
    if model:
        # Fine-tunes ("ft:gpt-4o-mini:org::id") and org-prefixed names ("openai/gpt-4o").
        name = model.lower().removeprefix("ft:").rsplit("/", 1)[-1]
        for prefix, encoding in _PREFIXES:
            if name.startswith(prefix):
                return encoding
    return DEFAULT_ENCODING


@cache
def get_encoding(name: str) -> Encoding:
    """A process-wide encoding instance (building the rank tables is not free)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        encoding: Encoding = bpe_openai.get_encoding(name)
    return encoding


def encoding_for_model(model: str | None) -> Encoding:
    return get_encoding(encoding_name_for_model(model))


def count_tokens(text: str, model: str | None = None) -> int:
    """Tokens in `text` as `model` would count them (special tokens counted as plain text)."""
    return len(encoding_for_model(model).encode_ordinary(text))
