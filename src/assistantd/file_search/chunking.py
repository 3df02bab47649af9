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

from pydantic import ValidationError

from assistantd.schemas import AutoChunkingStrategyParam, ChunkingStrategyParam, RequestSchema
from assistantd.tokens import Encoding, get_encoding
from assistantd.validation import to_api_error

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


def strategy_of(param: ChunkingStrategyParam | None) -> StaticChunking:
    """A request's validated `chunking_strategy` (the pydantic union) as chunking parameters:
    None and `auto` mean AUTO. Checks what the schema cannot: an overlap of at most half."""
    if param is None or isinstance(param, AutoChunkingStrategyParam):
        return AUTO
    return StaticChunking(param.static.max_chunk_size_tokens, param.static.chunk_overlap_tokens)


class _Strategy(RequestSchema):
    chunking_strategy: ChunkingStrategyParam


def strategy_from_request(body: Mapping[str, Any] | None) -> StaticChunking:
    """`strategy_of` for a `chunking_strategy` as plain data (e.g. a stored file's), validated
    by the request schema; the `param` of an error is as a request's would be."""
    if body is None:
        return AUTO
    data = {"chunking_strategy": body}
    try:
        parsed = _Strategy.model_validate(data, strict=True)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        error = to_api_error(errors, data)
        raise ChunkingStrategyError(error.message, error.param or "chunking_strategy") from None
    return strategy_of(parsed.chunking_strategy)


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
    import numpy as np

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
