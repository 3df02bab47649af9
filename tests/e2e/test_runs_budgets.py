"""Truncation strategies (what the upstream received) and the run's token budgets."""

from __future__ import annotations

import httpx
import openai

from tests.fakes.upstream import FakeUpstream, Turn
from tests.support.sse import post_stream, validate_events


def _long(i: int) -> str:
    return f"m{i} " + "alpha " * 95  # about 100 tokens


def _thread(client: openai.OpenAI, count: int) -> tuple[str, str]:
    assistant = client.beta.assistants.create(model="gpt-4o", instructions="Sys.")
    messages = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": _long(i)} for i in range(count)
    ]
    thread = client.beta.threads.create(messages=messages)  # type: ignore[arg-type]
    return assistant.id, thread.id


def _contents(body: dict[str, object]) -> list[str]:
    return [str(m["content"]).split(" ", 1)[0] for m in body["messages"]]  # type: ignore[attr-defined]


def test_last_messages(client: openai.OpenAI, fake: FakeUpstream) -> None:
    assistant_id, thread_id = _thread(client, 5)
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread_id,
        assistant_id=assistant_id,
        truncation_strategy={"type": "last_messages", "last_messages": 2},
    )
    assert run.status == "completed"
    assert run.truncation_strategy and run.truncation_strategy.type == "last_messages"
    assert _contents(fake.requests[-1]) == ["Sys.", "m3", "m4"]


def test_auto_fits_max_prompt_tokens(client: openai.OpenAI, fake: FakeUpstream) -> None:
    assistant_id, thread_id = _thread(client, 5)
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id, max_prompt_tokens=256
    )
    assert run.status == "completed"
    assert _contents(fake.requests[-1]) == ["Sys.", "m3", "m4"]  # the oldest dropped
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id, truncation_strategy={"type": "auto"}
    )
    assert len(fake.requests[-1]["messages"]) == 7  # everything fits the context window


def test_max_prompt_tokens_incomplete(
    client: openai.OpenAI, http: httpx.Client, fake: FakeUpstream
) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(
        messages=[{"role": "user", "content": "alpha " * 400}]  # the newest user message alone
    )
    body = {"assistant_id": assistant.id, "max_prompt_tokens": 256}
    events = post_stream(http, f"/threads/{thread.id}/runs", body)
    validate_events(events)
    name, run = events[-2]
    assert name == "thread.run.incomplete"
    assert run["incomplete_details"] == {"reason": "max_prompt_tokens"}
    assert fake.requests == []  # nothing sent that the model must reject


def test_max_completion_tokens_incomplete(
    client: openai.OpenAI, http: httpx.Client, fake: FakeUpstream
) -> None:
    fake.script(Turn(text="cut off mid", finish_reason="length"))
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "talk"}])
    body = {"assistant_id": assistant.id, "max_completion_tokens": 256}
    events = post_stream(http, f"/threads/{thread.id}/runs", body)
    validate_events(events)
    names = [n for n, _ in events]
    assert "thread.message.incomplete" in names
    assert names[-2] == "thread.run.incomplete"
    assert events[-2][1]["incomplete_details"] == {"reason": "max_completion_tokens"}
    assert fake.requests[-1]["max_tokens"] == 256
    [message] = [m for m in client.beta.threads.messages.list(thread.id) if m.role == "assistant"]
    assert message.status == "incomplete"
    assert message.incomplete_details and message.incomplete_details.reason == "max_tokens"
    assert message.content[0].text.value == "cut off mid"  # type: ignore[union-attr]
    run = client.beta.threads.runs.retrieve(events[-2][1]["id"], thread_id=thread.id)
    assert run.status == "incomplete" and run.usage is not None


def test_budget_minimum(client: openai.OpenAI, http: httpx.Client) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create()
    for key in ("max_prompt_tokens", "max_completion_tokens"):
        response = http.post(
            f"/threads/{thread.id}/runs", json={"assistant_id": assistant.id, key: 255}
        )
        assert response.status_code == 400
        assert response.json()["error"]["param"] == key
