"""A node's shutdown ends the event streams it still serves: a stream on an API node of a run
another node executes (shared Redis) is cut when the API node gets SIGTERM, instead of holding
uvicorn's shutdown until its graceful-shutdown timeout; the run goes on elsewhere."""

from __future__ import annotations

import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_KEYS, KEY_A, _database_url
from tests.fakes.upstream import FakeUpstream, Turn
from tests.support.process import spawn_server
from tests.support.redis import drop_prefix, fresh_prefix, shared_redis_url

AUTH = {"Authorization": f"Bearer {KEY_A}", "OpenAI-Beta": "assistants=v2"}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    with ExitStack() as stack:
        yield _database_url("postgres", stack, tmp_path)


def test_sigterm_ends_a_stream_of_a_run_on_another_node(
    tmp_path: Path, database: str, fake: FakeUpstream
) -> None:
    redis_url, prefix = shared_redis_url(), fresh_prefix()
    fake.script(Turn(text="later", ttft_s=20))  # the run waits for its model meanwhile
    env = {
        "ASSISTANTD_DATA_DIR": str(tmp_path),
        "ASSISTANTD_DATABASE_URL": database,
        "ASSISTANTD_API_KEYS": API_KEYS,
        "ASSISTANTD_UPSTREAM_BASE_URL": fake.base_url,
        "ASSISTANTD_UPSTREAM_MAX_RETRIES": "0",
        "ASSISTANTD_REDIS_URL": redis_url,
        "ASSISTANTD_REDIS_PREFIX": prefix,
    }
    with (
        ExitStack() as stack,
        tempfile.TemporaryFile() as log_a,
    ):
        stack.callback(drop_prefix, redis_url, prefix)
        _, _ = stack.enter_context(spawn_server(env, args=("--role", "worker")))
        url_a, process_a = stack.enter_context(
            spawn_server(env, args=("--role", "api"), log_level="info", stderr=log_a)
        )
        http = stack.enter_context(httpx.Client(base_url=f"{url_a}/v1", headers=AUTH, timeout=60))
        assistant = http.post("/assistants", json={"model": "gpt-4o"}).json()["id"]
        thread = http.post("/threads", json={"messages": [{"role": "user", "content": "hi"}]})
        names: list[str] = []
        opened, ended = threading.Event(), threading.Event()
        errors: list[BaseException] = []

        def read() -> None:
            try:
                with http.stream(
                    "POST",
                    f"/threads/{thread.json()['id']}/runs",
                    json={"assistant_id": assistant, "stream": True},
                ) as response:
                    for line in response.iter_lines():
                        if line.startswith("event: "):
                            names.append(line.removeprefix("event: "))
                            opened.set()
            except httpx.HTTPError as exc:
                errors.append(exc)
            finally:
                ended.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        assert opened.wait(30), "the stream never started"
        process_a.send_signal(signal.SIGTERM)
        assert ended.wait(30), "the stream stayed open"
        assert process_a.wait(timeout=30) == -signal.SIGTERM
        log_a.seek(0)
        logs = log_a.read().decode(errors="replace")
        assert "1 open event streams closed" in logs, logs[-2000:]
        assert "timeout graceful shutdown exceeded" not in logs, logs[-2000:]
        assert "thread.run.created" in names and "done" not in names, names
        assert errors, "the stream was cut, not ended"  # an incomplete chunked body
