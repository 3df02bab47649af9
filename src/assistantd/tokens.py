"""Offline token counting with the model's own tokenizer (bpe_openai).

Encodings: `o200k_base` for gpt-4o, gpt-4.1, gpt-4.5, gpt-5, chatgpt-4o, gpt-oss and the
o-series (o1, o3, o4...); `cl100k_base` for gpt-4 (8k/32k/turbo), gpt-3.5 and the
text-embedding-3 / ada-002 models. Any other model (llama, mistral, qwen... behind an
OpenAI-compatible server) falls back to `o200k_base`: their tokenizers differ, but a modern
byte-level BPE gives a count within a few percent, which is what truncation budgets need.
A provider prefix (`openai/gpt-4o`) is ignored.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

# bpe_openai 0.1.x reads its rank files with importlib.resources' legacy API, which warns on
# import and on first load; our test suite turns warnings into errors, so silence just that.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import bpe_openai
    from bpe_openai import Encoding as Encoding

FALLBACK_ENCODING = "o200k_base"
_O200K_PREFIXES = (
    "gpt-4o",
    "gpt-4.1",
    "gpt-4.5",
    "gpt-5",
    "chatgpt-4o",
    "gpt-oss",
    "o1",
    "o3",
    "o4",
)
_CL100K_PREFIXES = ("gpt-4", "gpt-3.5", "gpt-35", "text-embedding-3", "text-embedding-ada-002")

# Per-message framing of the chat format (<|start|>role ... <|end|>), and the reply priming.
TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
IMAGE_TOKENS = 85  # an image part, counted at its low-detail cost: a floor, not exact


def encoding_name_for_model(model: str | None) -> str:
    name = (model or "").lower().rsplit("/", 1)[-1]
    if name.startswith(_O200K_PREFIXES):
        return "o200k_base"
    if name.startswith(_CL100K_PREFIXES):
        return "cl100k_base"
    return FALLBACK_ENCODING


@cache
def get_encoding(name: str) -> Encoding:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return bpe_openai.get_encoding(name)


def preload() -> None:
    """Load every encoding now: a first load takes ~0.1 s of CPU, which must not happen on the
    event loop in the middle of a run (it would stall every stream). Call it off the loop."""
    for name in {FALLBACK_ENCODING, "o200k_base", "cl100k_base"}:
        get_encoding(name)


def encoding_for_model(model: str | None) -> Encoding:
    """The tokenizer for `model` (see the module docstring for the mapping and fallback)."""
    return get_encoding(encoding_name_for_model(model))


def count_tokens(text: str, model: str | None = None) -> int:
    """Tokens in plain text; special-token strings count as ordinary text. Counts of longer
    texts are remembered (`_counts`): a thread's messages are counted again on every model
    call of every run, and a 100k-token thread took ~0.1 s of CPU each time."""
    if not text:
        return 0
    name = encoding_name_for_model(model)
    if len(text) < CACHED_FROM_CHARS:
        return len(get_encoding(name).encode_ordinary(text))
    return _counts.count(name, text)


CACHED_FROM_CHARS = 64  # shorter texts cost about what a lookup does
CACHE_CHARS = 8_000_000  # the remembered texts' total size (~8-32 MB): about 20 long threads


class _CountCache:
    """Token counts by (encoding, text), least recently used dropped past `limit` characters.
    Thread-safe: context building runs in worker threads."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._chars = 0
        self._counts: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._lock = threading.Lock()

    def count(self, name: str, text: str) -> int:
        key = (name, text)
        with self._lock:
            known = self._counts.get(key)
            if known is not None:
                self._counts.move_to_end(key)
                return known
        counted = len(get_encoding(name).encode_ordinary(text))
        with self._lock:
            if key not in self._counts:
                self._counts[key] = counted
                self._chars += len(text)
            while self._chars > self._limit and self._counts:
                (_, dropped), _ = self._counts.popitem(last=False)
                self._chars -= len(dropped)
        return counted


_counts = _CountCache(CACHE_CHARS)


def count_message(message: Mapping[str, Any], model: str | None = None) -> int:
    """Tokens of one chat-completions message, framing included (no reply priming)."""
    total = TOKENS_PER_MESSAGE + count_tokens(str(message.get("role", "")), model)
    total += _content_tokens(message.get("content"), model)
    if message.get("name"):
        total += TOKENS_PER_NAME + count_tokens(str(message["name"]), model)
    for call in message.get("tool_calls") or ():
        function = call.get("function") or {}
        total += TOKENS_PER_MESSAGE + count_tokens(str(function.get("name", "")), model)
        total += count_tokens(str(function.get("arguments", "")), model)
    if message.get("tool_call_id"):
        total += count_tokens(str(message["tool_call_id"]), model)
    return total


def count_messages(messages: Iterable[Mapping[str, Any]], model: str | None = None) -> int:
    """Prompt tokens of a chat-completions `messages` list, as the upstream will bill it
    (approximately: tool definitions and response formats are not counted)."""
    return REPLY_PRIMING + sum(count_message(message, model) for message in messages)


def _content_tokens(content: Any, model: str | None) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return count_tokens(content, model)
    total = 0
    for part in content:
        if part.get("type") == "text":
            total += count_tokens(str(part.get("text", "")), model)
        elif part.get("type") in ("image_url", "image_file"):
            total += IMAGE_TOKENS
    return total
