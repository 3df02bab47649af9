"""Cancel mid-stream, cancel while waiting for tool outputs, cancel a finished run; a client that
disconnects mid-stream does not stop the run."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.fakes.upstream import Call, FakeUpstream, Turn
from tests.support.sse import frames

WORDS = " ".join(f"w{i}" for i in range(60))


def _thread(client: openai.OpenAI, **kwargs: object) -> tuple[str, str]:
    assistant = client.beta.assistants.create(model="gpt-4o", **kwargs)  # type: ignore[arg-type]
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "talk"}])
    return assistant.id, thread.id


def test_cancel_mid_stream(client: openai.OpenAI, http: httpx.Client, fake: FakeUpstream) -> None:
    fake.script(Turn(text=WORDS, itl_s=0.05))
    assistant_id, thread_id = _thread(client)
    names: list[str] = []
    run_id = ""
    body = {"assistant_id": assistant_id, "stream": True}
    with http.stream("POST", f"/threads/{thread_id}/runs", json=body) as response:
        lines = response.iter_lines()
        event = ""
        for line in lines:
            if line.startswith("event:"):
                event = line[6:].strip()
                names.append(event)
            elif line.startswith("data:") and event == "thread.run.created":
                run_id = httpx.Response(200, content=line[5:]).json()["id"]
            if names.count("thread.message.delta") == 3 and event == "thread.message.delta":
                cancelled = client.beta.threads.runs.cancel(run_id, thread_id=thread_id)
                assert cancelled.status in ("cancelling", "cancelled")
                event = "sent"
        rest = [n for n, _ in frames(lines)]
    names += rest
    tail = [n for n in names if not n.endswith(".delta")]
    assert tail[-5:] == [
        "thread.run.cancelling",
        "thread.message.incomplete",
        "thread.run.step.cancelled",
        "thread.run.cancelled",
        "done",
    ], tail
    assert names.count("thread.message.delta") < 20
    run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
    assert run.status == "cancelled" and run.cancelled_at
    [message] = [m for m in client.beta.threads.messages.list(thread_id) if m.run_id == run_id]
    assert message.status == "incomplete"
    assert message.incomplete_details and message.incomplete_details.reason == "run_cancelled"
    [step] = list(client.beta.threads.runs.steps.list(run_id, thread_id=thread_id))
    assert step.status == "cancelled"
    deadline = time.monotonic() + 5
    while fake.aborted < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.aborted == 1  # the upstream request was aborted
    client.beta.threads.messages.create(thread_id, role="user", content="unlocked")


def test_cancel_requires_action_and_finished(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Turn(tool_calls=[Call("f")]))
    tool = {"type": "function", "function": {"name": "f"}}
    assistant_id, thread_id = _thread(client, tools=[tool])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
    assert run.status == "requires_action"
    run = client.beta.threads.runs.cancel(run.id, thread_id=thread_id)
    assert run.status == "cancelled"
    [step] = list(client.beta.threads.runs.steps.list(run.id, thread_id=thread_id))
    assert step.status == "cancelled"
    with pytest.raises(openai.BadRequestError) as raised:
        client.beta.threads.runs.cancel(run.id, thread_id=thread_id)
    assert "cancelled" in raised.value.message
    done = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
    assert done.status == "completed"
    with pytest.raises(openai.BadRequestError):
        client.beta.threads.runs.cancel(done.id, thread_id=thread_id)


def test_disconnect_mid_stream_run_completes(
    client: openai.OpenAI, http: httpx.Client, fake: FakeUpstream
) -> None:
    fake.script(Turn(text=WORDS, itl_s=0.01))
    assistant_id, thread_id = _thread(client)
    deltas = 0
    body = {"assistant_id": assistant_id, "stream": True}
    with http.stream("POST", f"/threads/{thread_id}/runs", json=body) as response:
        for line in response.iter_lines():
            if line == "event: thread.message.delta":
                deltas += 1
                if deltas == 3:
                    break  # hang up
    [run] = list(client.beta.threads.runs.list(thread_id))
    run = client.beta.threads.runs.poll(run.id, thread_id=thread_id)
    assert run.status == "completed"
    [message] = [m for m in client.beta.threads.messages.list(thread_id) if m.run_id == run.id]
    assert message.content[0].text.value == WORDS  # type: ignore[union-attr]
    assert fake.aborted == 0
