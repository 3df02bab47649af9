"""A run's token budgets: what is left of them and the usage a model call adds."""

from __future__ import annotations

from assistantd.executor.turn import TurnResult
from assistantd.run_steps.schemas import FunctionToolCall
from assistantd.schemas import Usage
from assistantd.tokens import count_tokens


def left(budget: int | None, used: int) -> int | None:
    return None if budget is None else budget - used


def add(used: Usage, result: TurnResult, prompt_tokens: int) -> Usage:
    if result.usage is not None:
        prompt, completion = result.usage.prompt_tokens, result.usage.completion_tokens
    else:  # the upstream did not report usage: count it ourselves
        arguments = "".join(
            c.function.arguments or "" for c in result.tool_calls if isinstance(c, FunctionToolCall)
        )
        prompt, completion = prompt_tokens, count_tokens(result.text + arguments)
    prompt += used.prompt_tokens
    completion += used.completion_tokens
    return Usage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )
