"""Dedicated servers: runs waiting for tool outputs expire; runs a crashed process left
`in_progress` are failed (on the next start with SQLite; once their lease expired with
PostgreSQL) and their thread unlocked."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import API_KEYS, BACKENDS, KEY_A, _database_url, make_settings, sdk
from tests.fakes.upstream import Call, FakeUpstream, Turn
from tests.support.process import spawn_server
from tests.support.server import run_server


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with ExitStack() as stack:
        yield _database_url(request.param, stack, tmp_path)


def test_requires_action_expires(tmp_path: Path, database: str, fake: FakeUpstream) -> None:
    fake.script(Turn(tool_calls=[Call("f", id="call_e")]))
    settings = make_settings(
        tmp_path, database, upstream_base_url=fake.base_url, run_expiry_seconds=2
    )
    with run_server(settings) as server, sdk(server) as client:
        tool = {"type": "function", "function": {"name": "f"}}
        assistant = client.beta.assistants.create(model="gpt-4o", tools=[tool])  # type: ignore[list-item]
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "x"}])
        run = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id
        )
        assert run.status == "requires_action"
        assert run.expires_at is not None and run.expires_at - run.created_at == 2
        deadline = time.monotonic() + 10
        while run.status == "requires_action" and time.monotonic() < deadline:
            time.sleep(0.2)
            run = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        assert run.status == "expired"
        [step] = list(client.beta.threads.runs.steps.list(run.id, thread_id=thread.id))
        assert step.status == "expired" and step.expired_at
        with pytest.raises(openai.BadRequestError) as raised:
            client.beta.threads.runs.submit_tool_outputs(
                run.id,
                thread_id=thread.id,
                tool_outputs=[{"tool_call_id": "call_e", "output": "late"}],
            )
        assert "expired" in raised.value.message
        client.beta.threads.messages.create(thread.id, role="user", content="unlocked")


def test_crash_recovery(tmp_path: Path, database: str, fake: FakeUpstream) -> None:
    fake.script(Turn(text="one two three four", stall_after=2))
    env = {
        "ASSISTANTD_DATA_DIR": str(tmp_path),
        "ASSISTANTD_DATABASE_URL": database,
        "ASSISTANTD_API_KEYS": API_KEYS,
        "ASSISTANTD_UPSTREAM_BASE_URL": fake.base_url,
        "ASSISTANTD_UPSTREAM_MAX_RETRIES": "0",
    }
    with (
        spawn_server(env) as (url, process),
        openai.OpenAI(base_url=f"{url}/v1", api_key=KEY_A, max_retries=0) as client,
    ):
        assistant = client.beta.assistants.create(model="gpt-4o")
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "x"}])
        run = client.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        deadline = time.monotonic() + 10
        while not list(client.beta.threads.messages.list(thread.id, run_id=run.id)):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.2)
        assert (
            client.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status == "in_progress"
        )
        process.send_signal(signal.SIGKILL)  # a crash: nothing gets to clean up
        process.wait()
    settings = make_settings(tmp_path, database, upstream_base_url=fake.base_url)
    with run_server(settings) as server, sdk(server) as client:
        # SQLite: failed at start-up; PostgreSQL: taken over once the dead node's lease expired
        deadline = time.monotonic() + 30
        run = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        while run.status == "in_progress" and time.monotonic() < deadline:
            time.sleep(0.2)
            run = client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        assert run.status == "failed" and run.last_error is not None
        assert run.last_error.code == "server_error" and run.failed_at
        [step] = list(client.beta.threads.runs.steps.list(run.id, thread_id=thread.id))
        assert step.status == "failed"
        [message] = list(client.beta.threads.messages.list(thread.id, run_id=run.id))
        assert message.status == "incomplete"
        client.beta.threads.messages.create(thread.id, role="user", content="unlocked")
        done = client.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id
        )
        assert done.status == "completed"
    with httpx.Client() as raw, pytest.raises(httpx.TransportError):  # the killed process is gone
        raw.get(f"{url}/healthz", timeout=1)
