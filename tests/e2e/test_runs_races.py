"""Writes during a run: the API and the executor each write only what they change, so neither
overwrites the other with a stale copy (metadata modified mid-run stays; the status the executor
wrote is never set back, so the thread is free when the run ends)."""

from __future__ import annotations

import time

import openai

from tests.fakes.upstream import FakeUpstream, Turn


def _wait(predicate: object, what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_run_metadata_modified_mid_run_is_kept(client: openai.OpenAI, fake: FakeUpstream) -> None:
    # The fake holds the stream open before its first token: the run is in_progress meanwhile.
    fake.script(Turn(text="slow answer", ttft_s=1.5))
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)

    def status() -> str:
        return client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status

    _wait(lambda: status() == "in_progress", "the run to start")
    modified = client.beta.threads.runs.update(run.id, thread_id=thread.id, metadata={"k": "v"})
    assert modified.metadata == {"k": "v"} and modified.status == "in_progress"

    done = client.beta.threads.runs.poll(run.id, thread_id=thread.id, poll_interval_ms=50)
    assert done.status == "completed"
    assert done.metadata == {"k": "v"}
    # the thread is free
    client.beta.threads.messages.create(thread.id, role="user", content="next")


def test_message_metadata_modified_while_it_streams_is_kept(
    client: openai.OpenAI, fake: FakeUpstream
) -> None:
    tokens = ["one", " two", " three", " four", " five", " six"]
    fake.script(Turn(text="".join(tokens), tokens=tokens, itl_s=0.4))
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "count"}])
    run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)

    def answer() -> list[openai.types.beta.threads.Message]:
        return [
            m
            for m in client.beta.threads.messages.list(thread.id, run_id=run.id)
            if m.role == "assistant"
        ]

    _wait(lambda: bool(answer()) and answer()[0].status == "in_progress", "the answer")
    message = answer()[0]
    client.beta.threads.messages.update(message.id, thread_id=thread.id, metadata={"tag": "x"})

    done = client.beta.threads.runs.poll(run.id, thread_id=thread.id, poll_interval_ms=50)
    assert done.status == "completed"
    final = client.beta.threads.messages.retrieve(message.id, thread_id=thread.id)
    assert final.metadata == {"tag": "x"}
    assert final.status == "completed"
    assert final.content[0].text.value == "one two three four five six"  # type: ignore[union-attr]
