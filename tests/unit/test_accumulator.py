"""ChatAccumulator with awkward chunkings."""

from __future__ import annotations

from typing import Any

from assistantd.executor.accumulator import ChatAccumulator, ChunkUpdate, NewToolCall
from assistantd.upstream.types import ChatChunk


def chunk(
    delta: dict[str, Any] | None = None, finish: str | None = None, **extra: Any
) -> ChatChunk:
    choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    return {"choices": choices, **extra}  # type: ignore[typeddict-item]


def tool(
    index: int | None, id: str | None = None, name: str | None = None, args: str | None = None
) -> dict[str, Any]:
    part: dict[str, Any] = {"function": {}}
    if index is not None:
        part["index"] = index
    if id is not None:
        part["id"] = id
    if name is not None:
        part["function"]["name"] = name
    if args is not None:
        part["function"]["arguments"] = args
    return part


def run(chunks: list[ChatChunk]) -> tuple[ChatAccumulator, list[ChunkUpdate]]:
    acc = ChatAccumulator()
    return acc, [acc.add(c) for c in chunks]


def test_one_char_per_chunk_text() -> None:
    text = "Héllo, wörld! 😀"
    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": ch}) for ch in text]
    chunks += [
        chunk({}, "stop"),
        chunk(usage={"prompt_tokens": 5, "completion_tokens": 16, "total_tokens": 21}),
    ]
    acc, updates = run(chunks)
    assert acc.text == text
    assert "".join(u.text for u in updates) == text
    assert updates[0].text == ""  # the role-only chunk changes nothing visible
    assert acc.finish_reason == "stop" and updates[-2].finish_reason == "stop"
    assert acc.usage == {"prompt_tokens": 5, "completion_tokens": 16, "total_tokens": 21}
    assert updates[-1].usage == acc.usage and updates[-1].text == ""


def test_empty_choices_and_empty_chunks() -> None:
    acc, updates = run([{}, chunk(None), chunk({}), chunk({"content": None}), {"choices": None}])  # type: ignore[typeddict-item]
    assert acc.text == "" and acc.tool_calls == [] and acc.usage is None
    assert all(u == ChunkUpdate() for u in updates)


def test_single_tool_call_arguments_char_by_char() -> None:
    args = '{"city": "Paris"}'
    chunks = [chunk({"tool_calls": [tool(0, "call_abc", "get_weather", "")]})]
    chunks += [chunk({"tool_calls": [tool(0, args=ch)]}) for ch in args]
    chunks += [chunk({}, "tool_calls")]
    acc, updates = run(chunks)
    assert updates[0].new_tool_calls == [NewToolCall(0, "call_abc", "get_weather")]
    assert updates[0].arguments == []
    assert "".join(a for u in updates for _, a in u.arguments) == args
    assert [(c.id, c.name, c.arguments) for c in acc.tool_calls] == [
        ("call_abc", "get_weather", args)
    ]
    assert acc.finish_reason == "tool_calls"


def test_parallel_calls_interleaved() -> None:
    chunks = [
        chunk({"tool_calls": [tool(0, "call_a", "f", ""), tool(1, "call_b", "g", "")]}),
        chunk({"tool_calls": [tool(1, args='{"y"')]}),
        chunk({"tool_calls": [tool(0, args='{"x"')]}),
        chunk({"tool_calls": [tool(0, args=": 1}"), tool(1, args=": 2}")]}),
    ]
    acc, updates = run(chunks)
    assert [c.index for c in updates[0].new_tool_calls] == [0, 1]
    assert updates[1].arguments == [(1, '{"y"')]
    assert updates[3].arguments == [(0, ": 1}"), (1, ": 2}")]
    assert [(c.id, c.arguments) for c in acc.tool_calls] == [
        ("call_a", '{"x": 1}'),
        ("call_b", '{"y": 2}'),
    ]


def test_id_and_name_set_once_even_if_repeated() -> None:
    chunks = [
        chunk({"tool_calls": [tool(0, "call_a", "f", "{")]}),
        chunk({"tool_calls": [tool(0, "call_a", "f", "}")]}),  # some servers repeat id and name
    ]
    acc, updates = run(chunks)
    assert acc.tool_calls[0].name == "f" and acc.tool_calls[0].id == "call_a"
    assert updates[1].new_tool_calls == [] and updates[1].arguments == [(0, "}")]


def test_name_arriving_after_arguments_announces_with_backlog() -> None:
    chunks = [
        chunk({"tool_calls": [tool(0, args='{"a"')]}),
        chunk({"tool_calls": [tool(0, name="late")]}),
        chunk({"tool_calls": [tool(0, args=": 1}")]}),
    ]
    _, updates = run(chunks)
    assert updates[0].new_tool_calls == [] and updates[0].arguments == []
    (announced,) = updates[1].new_tool_calls
    assert announced.name == "late" and announced.id.startswith("call_")
    assert updates[1].arguments == [(0, '{"a"')]
    assert updates[2].arguments == [(0, ": 1}")]


def test_servers_that_reuse_index_zero_or_omit_it() -> None:
    chunks = [
        chunk({"tool_calls": [tool(0, "call_1", "f", "{}")]}),
        chunk({"tool_calls": [tool(0, "call_2", "g", "{")]}),  # same index, new id: a new call
        chunk({"tool_calls": [tool(None, args="}")]}),  # no index: continues the last call
    ]
    acc, updates = run(chunks)
    assert [(c.index, c.id, c.name, c.arguments) for c in acc.tool_calls] == [
        (0, "call_1", "f", "{}"),
        (1, "call_2", "g", "{}"),
    ]
    assert updates[1].new_tool_calls == [NewToolCall(1, "call_2", "g")]


def test_text_then_tool_call_and_refusal() -> None:
    acc, updates = run(
        [
            chunk({"content": "Let me check."}),
            chunk({"refusal": "no"}),
            chunk({"tool_calls": [tool(3, "call_z", "h", "{}")]}),  # upstream index 3 -> ours 0
        ]
    )
    assert acc.text == "Let me check." and acc.refusal == "no"
    assert updates[2].new_tool_calls == [NewToolCall(0, "call_z", "h")]
