"""A long thread's context extended from its transcript as last built is the context built from
the start: new messages and tool steps (file-search citation numbers go on), a changed or
removed row, a row sorting among the known ones, another model's encoding, truncation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from assistantd import ids
from assistantd.db.engine import Database
from assistantd.executor import thread_context
from assistantd.executor.context import ContextResult
from assistantd.executor.thread_context import ON_LOOP_CHARS, ThreadRows, load_context
from assistantd.files.blobs import LocalBlobStore
from assistantd.messages import store as messages_store
from assistantd.messages.schemas import Message
from assistantd.run_steps.schemas import RunStep
from assistantd.runs.schemas import Run, TruncationStrategy

THREAD = "thread_long"
WORDS = " ".join(f"w{i}" for i in range(ON_LOOP_CHARS // 40))  # ~1/8 of a long thread


def message_row(role: str, text: str, key: str | None = None) -> tuple[str, str]:
    message = Message.model_validate(
        {
            "id": key or ids.new_id(ids.MESSAGE),
            "created_at": 1,
            "thread_id": THREAD,
            "role": role,
            "content": [{"type": "text", "text": {"value": text, "annotations": []}}],
        }
    )
    return message.id, message.model_dump_json()


def step_row(run_id: str, calls: list[dict[str, Any]]) -> tuple[str, str]:
    step = RunStep.model_validate(
        {
            "id": ids.new_id(ids.STEP),
            "created_at": 1,
            "assistant_id": "a",
            "thread_id": THREAD,
            "run_id": run_id,
            "type": "tool_calls",
            "status": "completed",
            "step_details": {"type": "tool_calls", "tool_calls": calls},
        }
    )
    return step.id, step.model_dump_json()


def file_search(call_id: str) -> dict[str, Any]:
    result = {
        "file_id": "file-1",
        "file_name": "a.txt",
        "score": 0.5,
        "content": [{"type": "text", "text": f"passage of {call_id}"}],
    }
    return {"id": call_id, "type": "file_search", "file_search": {"results": [result]}}


def function(call_id: str) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": "f", "arguments": "{}", "output": f"out {call_id}"},
    }


def run(model: str = "gpt-4o", **extra: Any) -> Run:
    return Run(
        id="run_1",
        created_at=1,
        thread_id=THREAD,
        assistant_id="a",
        model=model,
        instructions="Be brief.",
        **extra,
    )


@pytest.fixture
async def build(tmp_path: Path) -> AsyncIterator[Any]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    blobs = LocalBlobStore(tmp_path / "files")
    thread_context._transcripts.drop(THREAD)

    async def context(
        rows: ThreadRows, of: Run, fresh: bool = False, prompt_left: int | None = None
    ) -> ContextResult:
        if fresh:
            thread_context._transcripts.drop(THREAD)
        return await load_context(db, blobs, "p", of, prompt_left, {}, rows)

    yield context
    thread_context._transcripts.drop(THREAD)
    await db.dispose()


async def same_as_fresh(
    build: Any, rows: ThreadRows, of: Run, prompt_left: int | None = None
) -> ContextResult:
    extended = await build(rows, of, prompt_left=prompt_left)
    assert extended == await build(rows, of, fresh=True, prompt_left=prompt_left)
    return extended


def long_thread() -> list[tuple[str, str]]:
    return [message_row("user" if n % 2 == 0 else "assistant", f"{n} {WORDS}") for n in range(9)]


async def test_new_rows_are_rendered_after_the_known_ones(
    build: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages, steps = long_thread(), [step_row("run_0", [file_search("call_a")])]
    await build(ThreadRows(messages, steps), run())
    parsed: list[int] = []
    parse = messages_store.parse_thread

    def counted(rows: list[tuple[str, str]], *args: Any, **kwargs: Any) -> list[Message]:
        parsed.append(len(rows))
        return parse(rows, *args, **kwargs)

    monkeypatch.setattr(messages_store, "parse_thread", counted)
    steps = [*steps, step_row("run_0", [file_search("call_b"), function("call_c")])]
    messages = [*messages, message_row("assistant", "done"), message_row("user", "again")]
    built = await build(ThreadRows(messages, steps), run())
    assert parsed == [2]  # only the new messages
    assert built == await build(ThreadRows(messages, steps), run(), fresh=True)
    outputs = [m["content"] for m in built.messages if m["role"] == "tool"]
    assert outputs[0].startswith("【0:0†a.txt】") and outputs[1].startswith("【1:0†a.txt】")
    assert built.messages[-1] == {"role": "user", "content": "again"}


async def test_changed_removed_or_earlier_rows_build_from_the_start(build: Any) -> None:
    messages = long_thread()
    await build(ThreadRows(messages, []), run())
    changed = [*messages[:-1], message_row("assistant", "rewritten", key=messages[-1][0])]
    assert (await same_as_fresh(build, ThreadRows(changed, []), run())).messages[-1][
        "content"
    ] == "rewritten"
    removed = changed[1:]
    await same_as_fresh(build, ThreadRows(removed, []), run())
    older = ids.sort_key(ids.MESSAGE, 1, 0)  # an imported message, made long ago
    earlier = await same_as_fresh(
        build, ThreadRows([*removed, message_row("user", "old", key=older)], []), run()
    )
    assert earlier.messages[1]["content"] == "old"  # in creation order, after the system


async def test_another_encoding_and_truncation(build: Any) -> None:
    messages = long_thread()
    first = await build(ThreadRows(messages, []), run())
    messages = [*messages, message_row("user", "next")]
    other = await same_as_fresh(build, ThreadRows(messages, []), run("gpt-4"))
    assert other.prompt_tokens != first.prompt_tokens
    last_two = run(truncation_strategy=TruncationStrategy(type="last_messages", last_messages=2))
    kept = await same_as_fresh(build, ThreadRows(messages, []), last_two)
    assert [m["content"][:2] for m in kept.messages[1:]] == ["8 ", "ne"]
    await build(ThreadRows(messages, []), run())
    tight = await same_as_fresh(
        build, ThreadRows(messages, []), run(), prompt_left=2 * first.prompt_tokens // 9
    )
    assert 0 < tight.dropped < len(messages) and tight.fits
