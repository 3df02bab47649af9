"""Offline token counting with the model's own tokenizer (bpe_openai).

Encodings: `o200k_base` for gpt-4o, gpt-4.1, gpt-4.5, gpt-5, chatgpt-4o, gpt-oss and the
o-series (o1, o3, o4...); `cl100k_base` for gpt-4 (8k/32k/turbo), gpt-3.5 and the
text-embedding-3 / ada-002 models. Any other model (llama, mistral, qwen... behind an
OpenAI-compatible server) falls back to `o200k_base`: their tokenizers differ, but a modern
byte-level BPE gives a count within a few percent, which is what truncation budgets need.
A provider prefix (`openai/gpt-4o`) is ignored.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from functools import cache
from types import ModuleType
from typing import Any, Protocol

from assistantd.pages import drop_clean_pages


class Encoding(Protocol):
    """What chunking needs of a full bpe_openai encoding (token ids and their bytes)."""

    name: str

    def encode_ordinary(self, text: str) -> list[int]: ...

    def decode_single_token_bytes(self, token: int) -> bytes: ...


class Tokenizer(Protocol):
    """bpe_openai's compiled tokenizer (`_bindings.PyTokenizer`): counts without token lists."""

    def count(self, text: str) -> int: ...


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


_BINDINGS = "bpe_openai._bindings"
_loading = threading.Lock()
_tokenizers: dict[str, Tokenizer] = {}


def _bindings() -> ModuleType:
    """bpe_openai's compiled module, imported without running the package's `__init__`: that
    builds every registry entry at import (the rank tables of o200k_base, cl100k_base and
    voyage3_base as Python dicts: +66 MB and ~2.5 s), which counting never uses. The module is
    registered under its own name, so a later `import bpe_openai` (chunking) shares it."""
    loaded = sys.modules.get(_BINDINGS)
    if loaded is not None:
        return loaded
    package = importlib.util.find_spec("bpe_openai")  # finds the package, does not run it
    if package is None or not package.submodule_search_locations:
        raise ImportError("bpe_openai is not installed")
    spec = importlib.machinery.PathFinder.find_spec(
        _BINDINGS, list(package.submodule_search_locations)
    )
    if spec is None or spec.loader is None:
        raise ImportError(f"{_BINDINGS} not found")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_BINDINGS] = module
    spec.loader.exec_module(module)
    return module


def tokenizer(name: str) -> Tokenizer:
    """The counting tokenizer of encoding `name`, built on first use: ~60-90 ms of CPU and
    ~66 MB for o200k_base (built at start, `preload`), ~30 ms and ~30 MB for cl100k_base.
    The build holds the GIL wherever it runs (a worker thread included), so its first use
    pauses the event loop that long, once per process."""
    known = _tokenizers.get(name)
    if known is not None:
        return known
    with _loading:
        if name not in _tokenizers:
            bindings = _bindings()
            _tokenizers[name] = bindings.tokenizer_for_encoding(name)
            # The build read its tables out of the module's file: its pages are not needed.
            drop_clean_pages(str(bindings.__file__))
        return _tokenizers[name]


def is_loaded(name: str) -> bool:
    return name in _tokenizers


def preload() -> None:
    """Build the fallback encoding's tokenizer (the one of nearly every model); others are
    built on first use. Call it off the loop."""
    tokenizer(FALLBACK_ENCODING)


@cache
def get_encoding(name: str) -> Encoding:
    """The full tiktoken-like encoding (token ids and bytes), for chunking: imports the whole
    bpe_openai package on first use (see `_bindings`) and costs ~10 MB more per encoding."""
    with warnings.catch_warnings():
        # bpe_openai 0.1.x reads its rank files with importlib.resources' legacy API, which
        # warns; our test suite turns warnings into errors, so silence just that.
        warnings.simplefilter("ignore", DeprecationWarning)
        import bpe_openai

        encoding: Encoding = bpe_openai.get_encoding(name)
        return encoding


def encoding_for_model(model: str | None) -> Encoding:
    """The full encoding for `model` (see the module docstring for the mapping and fallback)."""
    return get_encoding(encoding_name_for_model(model))


def _count(name: str, text: str) -> int:
    """Exactly `len(get_encoding(name).encode_ordinary(text))`, without the token list and
    without that wrapper's limits (it refuses texts of 1M characters or 200k tokens)."""
    try:
        return tokenizer(name).count(text)
    except UnicodeEncodeError:  # lone surrogates: replaced by U+FFFD, as encode_ordinary does
        return tokenizer(name).count(
            text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
        )


def count_tokens(text: str, model: str | None = None) -> int:
    """Tokens in plain text; special-token strings count as ordinary text. Counts of longer
    texts are remembered (`_counts`): a thread's messages are counted again on every model
    call of every run, and a 100k-token thread took ~0.1 s of CPU each time."""
    if not text:
        return 0
    name = encoding_name_for_model(model)
    if len(text) < CACHED_FROM_CHARS:
        return _count(name, text)
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
        counted = _count(name, text)
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
