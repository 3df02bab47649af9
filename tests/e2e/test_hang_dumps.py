"""A hung server can be seen inside: its threads' stacks and its asyncio tasks' stacks.

A served process answers SIGUSR1 with both on stderr and keeps serving; the suite's own
in-process servers are dumped by `dump_servers` (called when pytest-timeout fails a test).
A run held mid-answer (the model stalls) must show up as a task, waiting in the executor.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.conftest import API_KEYS, KEY_A, sdk
from tests.fakes.upstream import FakeUpstream, Turn
from tests.support.process import spawn_server
from tests.support.server import RunningServer, dump_servers


def _stalled_run(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Turn(text="one two", stall_after=1, stall_s=30))
    assistant = client.beta.assistants.create(model="gpt-4o")
    client.beta.threads.create_and_run(
        assistant_id=assistant.id, thread={"messages": [{"role": "user", "content": "x"}]}
    )


def test_sigusr1_dumps_threads_and_tasks_and_the_server_lives_on(
    tmp_path: Path, fake: FakeUpstream
) -> None:
    env = {
        "ASSISTANTD_DATA_DIR": str(tmp_path),
        "ASSISTANTD_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
        "ASSISTANTD_API_KEYS": API_KEYS,
        "ASSISTANTD_UPSTREAM_BASE_URL": fake.base_url,
    }
    log = tmp_path / "stderr.log"
    with (
        log.open("wb") as sink,
        spawn_server(env, stderr=sink) as (url, process),
        openai.OpenAI(base_url=f"{url}/v1", api_key=KEY_A, max_retries=0) as client,
    ):
        _stalled_run(client, fake)
        time.sleep(0.5)  # the run is waiting for the model's next chunk
        process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while "asyncio tasks" not in log.read_text(errors="replace"):
            assert time.monotonic() < deadline, log.read_text(errors="replace")
            time.sleep(0.05)
        time.sleep(0.2)  # the rest of the task dump
        text = log.read_text(errors="replace")
        assert "Current thread 0x" in text or "Thread 0x" in text  # faulthandler's threads
        assert "run:run_" in text  # the run's task, by name
        assert "executor/loop.py" in text  # ... with its stack
        assert httpx.get(f"{url}/healthz").status_code == 200  # still serving
        assert process.poll() is None


def test_dump_servers_shows_the_test_servers_tasks(
    server: RunningServer, fake: FakeUpstream, capfd: pytest.CaptureFixture[str]
) -> None:
    with sdk(server) as client:
        _stalled_run(client, fake)
        time.sleep(0.5)
        dump_servers()
    err = capfd.readouterr().err
    assert f"asyncio tasks of the test server on port {server.server.config.port}" in err
    assert "run:run_" in err and "executor/loop.py" in err
