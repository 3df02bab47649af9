"""Typed views of chat-completion chunks as they arrive (decoded JSON, never re-validated).

These are `TypedDict`s: zero-cost on the hot path; every key may be absent because
OpenAI-compatible servers differ in what they send.
"""

from __future__ import annotations

from typing import TypedDict


class FunctionCallDelta(TypedDict, total=False):
    name: str | None
    arguments: str | None


class ToolCallChunk(TypedDict, total=False):
    index: int
    id: str | None
    type: str | None
    function: FunctionCallDelta | None


class ChoiceDelta(TypedDict, total=False):
    role: str | None
    content: str | None
    refusal: str | None
    tool_calls: list[ToolCallChunk] | None


class TokenLogprob(TypedDict, total=False):
    token: str
    logprob: float
    bytes: list[int] | None
    top_logprobs: list[TokenLogprob]


class ChoiceLogprobs(TypedDict, total=False):
    content: list[TokenLogprob] | None


class ChunkChoice(TypedDict, total=False):
    index: int
    delta: ChoiceDelta
    logprobs: ChoiceLogprobs | None  # when the request asked for them (`logprobs: true`)
    finish_reason: str | None


class CompletionUsage(TypedDict, total=False):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ChatChunk(TypedDict, total=False):
    id: str
    object: str
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: CompletionUsage | None
