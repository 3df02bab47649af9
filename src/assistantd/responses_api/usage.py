"""A response's `usage`: the upstream's counts (or our tokenizers' when it sends none), summed
over the model calls of the response."""

from __future__ import annotations

from typing import Any, cast

from assistantd import tokens
from assistantd.executor.accumulator import ChatAccumulator
from assistantd.items.schemas import Item
from assistantd.responses_api.schemas import (
    InputTokensDetails,
    OutputTokensDetails,
    ResponseUsage,
)


def of_call(acc: ChatAccumulator, body: dict[str, Any], output: list[Item]) -> ResponseUsage:
    usage = cast(dict[str, Any], acc.usage or {})
    if usage:
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
        cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        reasoning = int((usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0)
    else:  # the upstream did not say: count with our tokenizers
        model = str(body["model"])
        prompt = tokens.count_messages(body["messages"], model)
        completion = sum(
            tokens.count_tokens(item.model_dump_json(include={"content", "arguments"}), model)
            for item in output
        )
        cached = reasoning = 0
    return ResponseUsage(
        input_tokens=prompt,
        input_tokens_details=InputTokensDetails(cached_tokens=cached),
        output_tokens=completion,
        output_tokens_details=OutputTokensDetails(reasoning_tokens=reasoning),
        total_tokens=int(usage.get("total_tokens") or prompt + completion),
    )


def total(usages: list[ResponseUsage]) -> ResponseUsage:
    """The usage of all model calls of a response."""
    if len(usages) == 1:
        return usages[0]
    return ResponseUsage(
        input_tokens=sum(u.input_tokens for u in usages),
        input_tokens_details=InputTokensDetails(
            cached_tokens=sum(u.input_tokens_details.cached_tokens for u in usages)
        ),
        output_tokens=sum(u.output_tokens for u in usages),
        output_tokens_details=OutputTokensDetails(
            reasoning_tokens=sum(u.output_tokens_details.reasoning_tokens for u in usages)
        ),
        total_tokens=sum(u.total_tokens for u in usages),
    )
