"""Run options that inherit from the assistant: nulls mean "unset", and `reasoning_effort` is
stored, shown and sent upstream to the models that take it."""

from __future__ import annotations

import httpx
import openai

from tests.fakes.upstream import FakeUpstream


def test_null_sampling_inherits_the_assistants(
    client: openai.OpenAI, http: httpx.Client, fake: FakeUpstream
) -> None:
    """agency-swarm sends `temperature: null, top_p: null` on every run."""
    assistant = client.beta.assistants.create(model="gpt-4o", temperature=0.2, top_p=0.3)
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    response = http.post(
        f"/threads/{thread.id}/runs",
        json={"assistant_id": assistant.id, "temperature": None, "top_p": None},
        headers={"OpenAI-Beta": "assistants=v2"},
    )
    assert response.status_code == 200, response.text
    assert (response.json()["temperature"], response.json()["top_p"]) == (0.2, 0.3)
    run = client.beta.threads.runs.poll(response.json()["id"], thread_id=thread.id)
    assert run.status == "completed" and (run.temperature, run.top_p) == (0.2, 0.3)
    assert (fake.requests[-1]["temperature"], fake.requests[-1]["top_p"]) == (0.2, 0.3)

    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "again"}]},
        temperature=None,
        top_p=None,
    )
    assert run.status == "completed" and (run.temperature, run.top_p) == (0.2, 0.3)
    assert (fake.requests[-1]["temperature"], fake.requests[-1]["top_p"]) == (0.2, 0.3)


def test_reasoning_effort_is_stored_shown_and_sent(
    client: openai.OpenAI, http: httpx.Client, fake: FakeUpstream
) -> None:
    assistant = client.beta.assistants.create(model="o3-mini", reasoning_effort="low")
    raw = http.get(f"/assistants/{assistant.id}", headers={"OpenAI-Beta": "assistants=v2"})
    assert raw.json()["reasoning_effort"] == "low"
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "think"}])

    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed"
    assert run.model_extra is not None and run.model_extra["reasoning_effort"] == "low"
    assert fake.requests[-1]["reasoning_effort"] == "low"  # the assistant's

    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, reasoning_effort="high"
    )
    assert run.status == "completed"
    assert fake.requests[-1]["reasoning_effort"] == "high"  # the run's override
    got = http.get(f"/threads/{thread.id}/runs/{run.id}", headers={"OpenAI-Beta": "assistants=v2"})
    assert got.json()["reasoning_effort"] == "high"

    modified = client.beta.assistants.update(assistant.id, reasoning_effort="medium")
    assert modified.model_extra is not None and modified.model_extra["reasoning_effort"] == "medium"
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert fake.requests[-1]["reasoning_effort"] == "medium"


def test_reasoning_effort_is_not_sent_to_other_models(
    client: openai.OpenAI, fake: FakeUpstream
) -> None:
    """Chat models (and most OpenAI-compatible servers) reject the parameter."""
    assistant = client.beta.assistants.create(model="gpt-4o", reasoning_effort="low")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    run = client.beta.threads.runs.create_and_poll(thread_id=thread.id, assistant_id=assistant.id)
    assert run.status == "completed"
    assert "reasoning_effort" not in fake.requests[-1]
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, model="gpt-5-mini"
    )
    assert run.status == "completed" and fake.requests[-1]["reasoning_effort"] == "low"
