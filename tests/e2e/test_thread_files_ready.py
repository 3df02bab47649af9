"""A run waits (up to 60 s) for the thread's files to be indexed before its first model call,
so the first search finds them (llama-index and LangChain attach files and run at once); a
cancel during that wait ends the run."""

from __future__ import annotations

import io
import time
from typing import Any

import openai

from tests.conftest import sdk
from tests.e2e.test_ingestion_deletes import upstream_embedding_server  # noqa: F401 (fixture)
from tests.fakes.upstream import Call, FakeUpstream, Turn
from tests.support.server import RunningServer

INCLUDE = ["step_details.tool_calls[*].file_search.results[*].content"]


def _chat_calls(fake: FakeUpstream) -> int:
    return sum(1 for body in fake.requests if "messages" in body)


def _attached_thread(client: openai.OpenAI) -> tuple[str, str]:
    doc = client.files.create(
        file=("policy.txt", io.BytesIO(b"Refunds are accepted within 30 days of purchase.")),
        purpose="assistants",
    )
    thread = client.beta.threads.create(
        messages=[
            {
                "role": "user",
                "content": "What is the refund window?",
                "attachments": [{"file_id": doc.id, "tools": [{"type": "file_search"}]}],
            }
        ]
    )
    return thread.id, doc.id


def _wait_status(client: openai.OpenAI, thread_id: str, run_id: str, status: str) -> None:
    deadline = time.monotonic() + 30
    while client.beta.threads.runs.retrieve(run_id, thread_id=thread_id).status != status:
        assert time.monotonic() < deadline, f"the run never became {status}"
        time.sleep(0.05)


def test_first_run_waits_for_the_threads_files(
    upstream_embedding_server: RunningServer,  # noqa: F811
    fake: FakeUpstream,
) -> None:
    # Embeddings requests take from the same script: chat turns go only to chat requests.
    chat = [
        Turn(tool_calls=[Call("file_search", '{"queries": ["refund window"]}')]),
        Turn(text="30 days."),
    ]

    def answer(body: dict[str, Any]) -> Turn:
        return chat.pop(0) if "messages" in body and chat else Turn()

    fake.script(*[answer] * 8)
    with sdk(upstream_embedding_server) as client:
        fake.hold_embeddings.set()  # the attached file stays in_progress meanwhile
        assistant = client.beta.assistants.create(model="gpt-4o", tools=[{"type": "file_search"}])
        thread_id, doc_id = _attached_thread(client)
        run = client.beta.threads.runs.create(thread_id=thread_id, assistant_id=assistant.id)
        _wait_status(client, thread_id, run.id, "in_progress")
        time.sleep(0.5)
        assert _chat_calls(fake) == 0  # no model call while the thread's file is not indexed
        fake.hold_embeddings.clear()

        done = client.beta.threads.runs.poll(run.id, thread_id=thread_id, poll_interval_ms=50)
        assert done.status == "completed"
        steps = client.beta.threads.runs.steps.list(
            run.id, thread_id=thread_id, include=INCLUDE, order="asc"
        )
        [search] = [
            call
            for step in steps
            if step.type == "tool_calls"
            for call in step.step_details.tool_calls  # type: ignore[union-attr]
            if call.type == "file_search"
        ]
        results = search.file_search.results or []  # type: ignore[union-attr]
        assert [result.file_id for result in results] == [doc_id]


def test_cancel_while_waiting_for_the_threads_files(
    upstream_embedding_server: RunningServer,  # noqa: F811
    fake: FakeUpstream,
) -> None:
    with sdk(upstream_embedding_server) as client:
        fake.hold_embeddings.set()
        assistant = client.beta.assistants.create(model="gpt-4o", tools=[{"type": "file_search"}])
        thread_id, _ = _attached_thread(client)
        run = client.beta.threads.runs.create(thread_id=thread_id, assistant_id=assistant.id)
        _wait_status(client, thread_id, run.id, "in_progress")
        client.beta.threads.runs.cancel(run.id, thread_id=thread_id)
        _wait_status(client, thread_id, run.id, "cancelled")
        assert _chat_calls(fake) == 0
        fake.hold_embeddings.clear()
        client.beta.threads.messages.create(thread_id, role="user", content="free again")
