"""Non-streamed runs: create_and_poll, create-thread-and-run, list/retrieve/modify, steps, lock."""

from __future__ import annotations

import httpx
import openai
import pytest

from tests.e2e.test_runs_stream import Recorder
from tests.fakes.upstream import FakeUpstream, Turn


def _setup(client: openai.OpenAI) -> tuple[str, str]:
    assistant = client.beta.assistants.create(model="gpt-4o", instructions="Be brief.")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hello"}])
    return assistant.id, thread.id


def test_create_and_poll(client: openai.OpenAI, http: httpx.Client, fake: FakeUpstream) -> None:
    fake.script(Turn(text="Polled answer", ttft_s=0.3))
    assistant_id, thread_id = _setup(client)
    response = http.post(f"/threads/{thread_id}/runs", json={"assistant_id": assistant_id})
    assert response.status_code == 200
    assert int(response.headers["openai-poll-after-ms"]) > 0
    assert response.json()["status"] == "queued"  # returned at once, runs in the background
    run = client.beta.threads.runs.poll(response.json()["id"], thread_id=thread_id)
    assert run.status == "completed" and run.usage is not None and run.completed_at
    fake.script(Turn(text="Second"))
    client.beta.threads.messages.create(thread_id, role="user", content="again")
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id, metadata={"k": "v"}
    )
    assert run.status == "completed" and run.metadata == {"k": "v"}
    texts = [m.content[0].text.value for m in client.beta.threads.messages.list(thread_id)]  # type: ignore[union-attr]
    assert texts == ["Second", "again", "Polled answer", "hello"]


def test_list_retrieve_modify_and_steps(client: openai.OpenAI, fake: FakeUpstream) -> None:
    assistant_id, thread_id = _setup(client)
    first = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
    second = client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id, temperature=0.5, top_p=0.9
    )
    assert (second.temperature, second.top_p) == (0.5, 0.9)
    runs = client.beta.threads.runs.list(thread_id)
    assert [r.id for r in runs] == [second.id, first.id]
    assert [r.id for r in client.beta.threads.runs.list(thread_id, order="asc", limit=1).data] == [
        first.id
    ]
    got = client.beta.threads.runs.retrieve(first.id, thread_id=thread_id)
    assert got.id == first.id and got.status == "completed"
    modified = client.beta.threads.runs.update(first.id, thread_id=thread_id, metadata={"a": "b"})
    assert modified.metadata == {"a": "b"}
    steps = client.beta.threads.runs.steps.list(
        first.id,
        thread_id=thread_id,
        include=["step_details.tool_calls[*].file_search.results[*].content"],
    )
    [step] = list(steps)
    assert step.type == "message_creation" and step.status == "completed" and step.usage
    got_step = client.beta.threads.runs.steps.retrieve(
        step.id,
        thread_id=thread_id,
        run_id=first.id,
        include=["step_details.tool_calls[*].file_search.results[*].content"],
    )
    assert got_step.id == step.id and got_step.step_details.type == "message_creation"
    with pytest.raises(openai.NotFoundError):
        client.beta.threads.runs.retrieve("run_nope", thread_id=thread_id)


def test_create_thread_and_run(client: openai.OpenAI, fake: FakeUpstream) -> None:
    assistant = client.beta.assistants.create(model="gpt-4o")
    run = client.beta.threads.create_and_run_poll(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "hey"}]}
    )
    assert run.status == "completed"
    fake.script(Turn(text="Streamed reply"))
    handler = Recorder()
    with client.beta.threads.create_and_run_stream(
        assistant_id=assistant.id,
        thread={"messages": [{"role": "user", "content": "hey"}]},
        event_handler=handler,
    ) as stream:
        stream.until_done()
    events = handler.names("event")
    assert events[0] == "thread.created" and events[1] == "thread.run.created"
    assert handler.names("text_done") == ["Streamed reply"]
    assert stream.get_final_run().status == "completed"


def test_thread_lock(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Turn(text="slow one two", ttft_s=1.0))
    assistant_id, thread_id = _setup(client)
    run = client.beta.threads.runs.create(thread_id=thread_id, assistant_id=assistant_id)
    with pytest.raises(openai.BadRequestError) as raised:
        client.beta.threads.runs.create(thread_id=thread_id, assistant_id=assistant_id)
    assert raised.value.message.endswith(f"Thread {thread_id} already has an active run {run.id}.")
    with pytest.raises(openai.BadRequestError) as raised:
        client.beta.threads.messages.create(thread_id, role="user", content="more")
    assert raised.value.message.endswith(
        f"Can't add messages to {thread_id} while a run {run.id} is active."
    )
    with pytest.raises(openai.BadRequestError):  # additional_messages are messages too
        client.beta.threads.runs.create(
            thread_id=thread_id,
            assistant_id=assistant_id,
            additional_messages=[{"role": "user", "content": "x"}],
        )
    assert client.beta.threads.runs.poll(run.id, thread_id=thread_id).status == "completed"
    client.beta.threads.messages.create(thread_id, role="user", content="now fine")
