"""The prompt's token budget: truncation strategies over rendered chat messages. Pure.

Input: the system instructions and the thread rendered as chat-completions messages (oldest
first). Messages are grouped so that an assistant message with `tool_calls` and the `tool`
results that follow it stay together; every other message is its own group and counts as a
*thread message* for `last_messages`.

* `last_messages: N` keeps the N most recent thread messages (plus the tool groups after them).
* `auto` (and, as a safety net, `last_messages` too) drops the oldest groups until the prompt
  fits `min(max_prompt_tokens, context window - reserve_tokens)`. Never dropped: the system
  message and everything from the newest user message on.

When even that minimum does not fit, the result says `fits=False`: the executor ends the run
`incomplete` (reason `max_prompt_tokens`) rather than sending a prompt the model must reject.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from assistantd.runs.schemas import TruncationStrategy
from assistantd.tokens import REPLY_PRIMING, count_message

ChatMessage = dict[str, Any]

DEFAULT_CONTEXT_WINDOW = 128_000
CONTEXT_WINDOWS: dict[str, int] = {
    "gpt-4o": 128_000,
    "gpt-4.1": 1_047_576,
    "gpt-4.5": 128_000,
    "gpt-4-turbo": 128_000,
    "gpt-4-32k": 32_768,
    "gpt-4": 8_192,
    "gpt-3.5-turbo": 16_385,
    "gpt-5": 400_000,
    "o1": 200_000,
    "o3": 200_000,
    "o4": 200_000,
}
"""Known context sizes by model-name prefix (the longest matching prefix wins)."""


@dataclass(frozen=True, slots=True)
class ContextResult:
    messages: list[ChatMessage]  # system message first (if any), then the kept thread
    prompt_tokens: int
    dropped: int  # chat messages left out
    fits: bool


def context_window(model: str | None, overrides: Mapping[str, int] | None = None) -> int:
    """The model's context size: `overrides` (the `context_windows` setting) first, exact name
    then longest prefix, then the built-in table, else DEFAULT_CONTEXT_WINDOW."""
    name = (model or "").lower().rsplit("/", 1)[-1]
    for table in (overrides or {}, CONTEXT_WINDOWS):
        if name in table:
            return table[name]
        prefixes = [prefix for prefix in table if name.startswith(prefix)]
        if prefixes:
            return table[max(prefixes, key=len)]
    return DEFAULT_CONTEXT_WINDOW


def build_context(
    system: str | None,
    messages: Sequence[ChatMessage],
    *,
    model: str | None,
    strategy: TruncationStrategy | None = None,
    max_prompt_tokens: int | None = None,
    context_windows: Mapping[str, int] | None = None,
    reserve_tokens: int = 0,
    counts: Sequence[int] | None = None,
) -> ContextResult:
    """Apply the truncation strategy and the token limit (see the module docstring).
    `counts`: `count_message(m, model)` of each of `messages`, if known already."""
    groups = group_messages(messages)
    head = [{"role": "system", "content": system}] if system else []
    base = REPLY_PRIMING + sum(count_message(m, model) for m in head)
    each = iter(counts if counts is not None else [count_message(m, model) for m in messages])
    costs = [sum(next(each) for _ in group) for group in groups]
    protected = _protected_from(groups)
    start = 0
    if strategy is not None and strategy.type == "last_messages" and strategy.last_messages:
        start = min(_last_n_start(groups, strategy.last_messages), protected)
    limit = context_window(model, context_windows) - reserve_tokens
    if max_prompt_tokens is not None:
        limit = min(limit, max_prompt_tokens)
    total = base + sum(costs[start:])
    while total > limit and start < protected:
        total -= costs[start]
        start += 1
    kept = [message for group in groups[start:] for message in group]
    return ContextResult(head + kept, total, len(messages) - len(kept), total <= limit)


def group_messages(messages: Sequence[ChatMessage]) -> list[list[ChatMessage]]:
    """Split into groups: a tool-calling assistant message with its tool results, or one message."""
    groups: list[list[ChatMessage]] = []
    for message in messages:
        if message.get("role") == "tool" and groups and _is_tool_group(groups[-1]):
            groups[-1].append(message)
        else:
            groups.append([message])
    return groups


def _is_tool_group(group: list[ChatMessage]) -> bool:
    return group[0].get("role") == "assistant" and bool(group[0].get("tool_calls"))


def _protected_from(groups: list[list[ChatMessage]]) -> int:
    """Index of the first group that must be kept: the newest user message's (or the last)."""
    for position in range(len(groups) - 1, -1, -1):
        if groups[position][0].get("role") == "user":
            return position
    return max(len(groups) - 1, 0)


def _last_n_start(groups: list[list[ChatMessage]], n: int) -> int:
    """Index of the group holding the n-th most recent thread message (tool groups skipped)."""
    seen = 0
    for position in range(len(groups) - 1, -1, -1):
        if not _is_tool_group(groups[position]) and groups[position][0].get("role") != "tool":
            seen += 1
            if seen == n:
                return position
    return 0
