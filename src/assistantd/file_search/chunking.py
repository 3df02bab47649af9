"""Token-window chunking of parsed text, as OpenAI's `chunking_strategy` describes it.

Owns the strategy objects (`auto` = 800 tokens with 400 overlap; `static` with
`max_chunk_size_tokens` 100..4096 and `chunk_overlap_tokens` at most half of it), their
validation, and cutting text into overlapping windows counted with `assistantd.tokens`.
Every chunk keeps exact character offsets into the text it was cut from, so citations can
point back into the file; a boundary that falls inside a multi-byte character (BPE tokens may
split UTF-8 sequences, common in Japanese) is widened to the whole character.
It does not parse files or embed anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from assistantd.tokens import Encoding, get_encoding

MIN_CHUNK_TOKENS = 100
MAX_CHUNK_TOKENS = 4096
CHUNKING_ENCODING = "o200k_base"


class ChunkingStrategyError(ValueError):
    """An invalid `chunking_strategy`; `param` names the offending field."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True, slots=True)
class StaticChunking:
    max_chunk_size_tokens: int
    chunk_overlap_tokens: int

    def __post_init__(self) -> None:
        size, overlap = self.max_chunk_size_tokens, self.chunk_overlap_tokens
        if not MIN_CHUNK_TOKENS <= size <= MAX_CHUNK_TOKENS:
            raise ChunkingStrategyError(
                f"max_chunk_size_tokens must be between {MIN_CHUNK_TOKENS} and "
                f"{MAX_CHUNK_TOKENS}, got {size}.",
                "chunking_strategy.static.max_chunk_size_tokens",
            )
        if overlap < 0 or overlap > size // 2:
            raise ChunkingStrategyError(
                "chunk_overlap_tokens must be non-negative and not exceed half of "
                f"max_chunk_size_tokens ({size // 2}), got {overlap}.",
                "chunking_strategy.static.chunk_overlap_tokens",
            )

    def to_api(self) -> dict[str, Any]:
        """The strategy as a vector store file reports it (always `static` once applied)."""
        return {
            "type": "static",
            "static": {
                "max_chunk_size_tokens": self.max_chunk_size_tokens,
                "chunk_overlap_tokens": self.chunk_overlap_tokens,
            },
        }


AUTO = StaticChunking(max_chunk_size_tokens=800, chunk_overlap_tokens=400)


def strategy_from_request(body: Mapping[str, Any] | None) -> StaticChunking:
    """Validate a request's `chunking_strategy` (None or `{"type": "auto"}` mean AUTO)."""
    if body is None:
        return AUTO
    kind = body.get("type")
    if kind == "auto":
        return AUTO
    if kind != "static":
        raise ChunkingStrategyError(
            "chunking_strategy.type must be 'auto' or 'static'.", "chunking_strategy.type"
        )
    static = body.get("static")
    if not isinstance(static, Mapping):
        raise ChunkingStrategyError("Missing 'static' object.", "chunking_strategy.static")
    size, overlap = static.get("max_chunk_size_tokens"), static.get("chunk_overlap_tokens")
    for name, value in (("max_chunk_size_tokens", size), ("chunk_overlap_tokens", overlap)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ChunkingStrategyError(
                f"{name} must be an integer.", f"chunking_strategy.static.{name}"
            )
    assert isinstance(size, int) and isinstance(overlap, int)
    return StaticChunking(size, overlap)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One window: `text == source[start:end]` (character offsets), `tokens` in the window."""

    index: int
    start: int
    end: int
    text: str
    tokens: int


def chunk_text(
    text: str, strategy: StaticChunking = AUTO, encoding: Encoding | None = None
) -> list[Chunk]:
    """Cut `text` into overlapping token windows; whitespace-only windows are dropped."""
    enc = encoding or get_encoding(CHUNKING_ENCODING)
    tokens = enc.encode_ordinary(text)
    if not tokens:
        return []
    # Byte offset of each token boundary, and of each character start (plus the end): a byte
    # starts a character unless it is a UTF-8 continuation byte (0b10xxxxxx).
    token_bytes = [len(enc.decode_single_token_bytes(t)) for t in tokens]
    token_offsets = np.cumsum([0, *token_bytes])
    raw = np.frombuffer(text.encode("utf-8", "surrogatepass"), dtype=np.uint8)
    char_offsets = np.append(np.flatnonzero((raw & 0xC0) != 0x80), len(raw))
    # Round window starts down and ends up to whole characters.
    starts = np.searchsorted(char_offsets, token_offsets, side="right") - 1
    ends = np.searchsorted(char_offsets, token_offsets, side="left")
    size, overlap = strategy.max_chunk_size_tokens, strategy.chunk_overlap_tokens
    step = size - overlap
    chunks: list[Chunk] = []
    first = 0
    while True:
        last = min(first + size, len(tokens))
        start, end = int(starts[first]), int(ends[last])
        piece = text[start:end]
        if piece.strip():
            chunks.append(Chunk(len(chunks), start, end, piece, last - first))
        if last == len(tokens):
            return chunks
        first += step
