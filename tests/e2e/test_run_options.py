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
