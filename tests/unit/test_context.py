"""Truncation strategies and token budgets over rendered chat messages."""

from __future__ import annotations

from typing import Any

import pytest

from assistantd.executor.context import build_context, context_window, group_messages
from assistantd.runs.schemas import TruncationStrategy
from assistantd.tokens import count_messages

MODEL = "gpt-4o"


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


def tool_turn(call_id: str) -> list[dict[str, Any]]:
    call = {"id": call_id, "type": "function", "function": {"name": "f", "arguments": "{}"}}
    return [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call_id, "content": "result " * 20},
    ]


THREAD = [
    user("first question " * 20),
    assistant("first answer " * 20),
    *tool_turn("call_1"),
    assistant("second answer " * 20),
    user("newest question"),
]


def contents(result_messages: list[dict[str, Any]]) -> list[str]:
    return [m["role"] for m in result_messages]


def test_no_strategy_keeps_everything_and_counts() -> None:
    result = build_context("Be nice.", THREAD, model=MODEL)
    assert result.messages[0] == {"role": "system", "content": "Be nice."}
    assert result.messages[1:] == THREAD
    assert result.prompt_tokens == count_messages(result.messages, MODEL)
    assert result.dropped == 0 and result.fits


def test_last_messages_counts_thread_messages_not_tool_results() -> None:
    strategy = TruncationStrategy(type="last_messages", last_messages=2)
    result = build_context(None, THREAD, model=MODEL, strategy=strategy)
    assert result.messages == THREAD[-2:]
    strategy = TruncationStrategy(type="last_messages", last_messages=3)
    result = build_context(None, THREAD, model=MODEL, strategy=strategy)
    assert result.messages == THREAD[1:]  # the tool pair after the kept answer stays
    assert result.dropped == 1


def test_last_messages_never_drops_the_newest_user_message() -> None:
    thread = [user("q"), assistant("a1"), assistant("a2")]
    strategy = TruncationStrategy(type="last_messages", last_messages=1)
    assert build_context(None, thread, model=MODEL, strategy=strategy).messages == thread


def test_auto_drops_oldest_to_fit_max_prompt_tokens() -> None:
    full = count_messages([{"role": "system", "content": "sys"}, *THREAD], MODEL)
    first_cost = count_messages([THREAD[0]], MODEL) - 3
    result = build_context(
        "sys", THREAD, model=MODEL, strategy=TruncationStrategy(), max_prompt_tokens=full - 1
    )
    assert result.messages[1:] == THREAD[1:]
    assert result.prompt_tokens == full - first_cost and result.fits


def test_auto_keeps_tool_pairs_together() -> None:
    budget = count_messages([{"role": "system", "content": "sys"}, *THREAD[4:]], MODEL)
    result = build_context("sys", THREAD, model=MODEL, max_prompt_tokens=budget + 5)
    roles = contents(result.messages)
    assert roles == ["system", "assistant", "user"]  # the tool pair went as a whole
    assert not any(m.get("role") == "tool" for m in result.messages)


def test_does_not_fit_when_protected_part_is_too_big() -> None:
    result = build_context("sys " * 300, THREAD, model=MODEL, max_prompt_tokens=256)
    assert not result.fits
    assert result.messages[0]["role"] == "system" and result.messages[-1] == THREAD[-1]
    assert result.prompt_tokens > 256


def test_context_window_limits_when_no_max_prompt_tokens() -> None:
    big = [user("word " * 6000), assistant("ok"), user("now")]
    result = build_context(None, big, model="gpt-4", reserve_tokens=4000)  # 8k window
    assert result.messages == big[1:] and result.fits
    result = build_context(None, big, model="gpt-4", context_windows={"gpt-4": 100_000})
    assert result.messages == big


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("gpt-4o", 128_000),
        ("gpt-4o-mini", 128_000),
        ("gpt-4.1-mini", 1_047_576),
        ("gpt-3.5-turbo", 16_385),
        ("gpt-4", 8_192),
        ("gpt-4-0613", 8_192),
        ("gpt-4-turbo", 128_000),
        ("o3-mini", 200_000),
        ("gpt-5-nano", 400_000),
        ("openai/gpt-4o", 128_000),
        ("mystery-model", 128_000),
        (None, 128_000),
    ],
)
def test_context_window_table(model: str | None, window: int) -> None:
    assert context_window(model) == window


def test_context_window_overrides() -> None:
    assert context_window("llama3.1:70b", {"llama3.1": 131_072}) == 131_072
    assert context_window("gpt-4o", {"gpt-4o": 1000}) == 1000


def test_grouping() -> None:
    groups = group_messages(THREAD)
    assert [len(g) for g in groups] == [1, 1, 2, 1, 1]
    orphan = group_messages([{"role": "tool", "tool_call_id": "x", "content": "y"}])
    assert len(orphan) == 1
