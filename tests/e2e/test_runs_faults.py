"""Upstream faults: retried, then failed runs with useful errors, never a 5xx of our API."""

from __future__ import annotations

import time

import httpx
import openai
import pytest

from tests.fakes.upstream import Fail, FakeUpstream, Turn
from tests.support.sse import post_stream, validate_events


def _run(client: openai.OpenAI, model: str = "gpt-4o") -> openai.types.beta.threads.Run:
    assistant = client.beta.assistants.create(model=model)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    return client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)


def test_429_with_retry_after_then_success(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Fail(429, retry_after="0.3"), Turn(text="after the wait"))
    started = time.monotonic()
    run = _run(client)
    assert run.status == "completed"
    assert time.monotonic() - started >= 0.3  # retry-after honoured
    assert len(fake.requests) == 2
    texts = [m.content[0].text.value for m in client.beta.threads.messages.list(run.thread_id)]  # type: ignore[union-attr]
    assert texts[0] == "after the wait"


def test_429_exhausted(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(*[Fail(429, "slow down", retry_after_ms="10")] * 3)
    run = _run(client)
    assert run.status == "failed" and run.last_error is not None
    assert run.last_error.code == "rate_limit_exceeded"
    assert len(fake.requests) == 3  # 1 + upstream_max_retries
    client.beta.threads.messages.create(run.thread_id, role="user", content="unlocked")


def test_500_is_server_error(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(*[Fail(500, "boom")] * 3)
    run = _run(client)
    assert run.status == "failed" and run.last_error is not None
    assert run.last_error.code == "server_error"


@pytest.mark.parametrize(
    "turn",
    [
        Turn(text="one two three four", malformed_after=2),
        Turn(text="one two three four", cut_after=2),
        Turn(text="one two", send_done=False, finish_reason="stop", usage=False),
    ],
    ids=["malformed", "cut", "no-done"],
)
def test_broken_stream(
    client: openai.OpenAI, http: httpx.Client, fake: FakeUpstream, turn: Turn
) -> None:
    fake.script(turn)
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    events = post_stream(http, f"/threads/{thread.id}/runs", {"assistant_id": assistant.id})
    validate_events(events)
    name, run = events[-2]
    if turn.send_done is False:  # a finish_reason then EOF: a complete answer, tolerated
        assert name == "thread.run.completed"
        return
    assert name == "thread.run.failed", [n for n, _ in events]
    assert run["last_error"]["code"] == "server_error" and run["last_error"]["message"]
    assert len(fake.requests) == 1  # text already reached the client: no retry
    [message] = [m for m in client.beta.threads.messages.list(thread.id) if m.role == "assistant"]
    assert message.status == "incomplete"
    [step] = list(client.beta.threads.runs.steps.list(run["id"], thread_id=thread.id))
    assert step.status == "failed" and step.last_error is not None


def test_bad_model_404(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Fail(404, "The model `gpt-nope` does not exist or you do not have access to it."))
    run = _run(client, model="gpt-nope")
    assert run.status == "failed" and run.last_error is not None
    assert "gpt-nope" in run.last_error.message and "does not exist" in run.last_error.message
    assert len(fake.requests) == 1  # a 4xx is not retried


def test_unreachable_upstream_does_not_5xx(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Fail(503, "overloaded"), Fail(502, "bad gateway"), Turn(text="finally"))
    run = _run(client)
    assert run.status == "completed" and len(fake.requests) == 3
