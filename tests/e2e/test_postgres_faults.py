"""PostgreSQL restarted mid-run: while it is down a client gets a 503 error object (never a 500
and never a partial object) and the attached stream stays open with keep-alive comments (so a
proxy does not cut it); once it is back the stream ends with the run's terminal event, every
run that was under way is terminal and its thread takes new runs. With a private PostgreSQL
server that the test stops and starts again."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_settings
from tests.e2e.test_run_events import WORDS, read_frames
from tests.fakes.upstream import FakeUpstream, Turn
from tests.support.faults import streamed_and_polled
from tests.support.postgres import PrivatePostgres, private_postgres
from tests.support.server import RunningServer, run_server

LONG = " ".join(f"w{i}" for i in range(150))
TERMINAL = {"completed", "failed", "cancelled", "expired", "incomplete"}


@pytest.fixture
def node(
    tmp_path: Path, fake_upstream: FakeUpstream
) -> Iterator[tuple[RunningServer, PrivatePostgres]]:
    with private_postgres() as postgres:
        settings = make_settings(
            tmp_path / "data", postgres.url, upstream_base_url=fake_upstream.base_url
        )
        with run_server(settings) as server:
            yield server, postgres


def _status_after_restart(http: httpx.Client, thread_id: str, run_id: str) -> str:
    """The run's status once it is terminal; 503s while the pool reconnects are retried."""
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        response = http.get(f"/threads/{thread_id}/runs/{run_id}")
        if response.status_code == 503:
            assert response.json()["error"]["type"]  # an error object, even now
        else:
            assert response.status_code == 200, response.text
            status = str(response.json()["status"])
            if status in TERMINAL:
                return status
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} was not terminal 45 s after PostgreSQL came back")


def _until_keepalive(lines: Iterator[str], within_s: float) -> list[str]:
    """Read the stream until a keep-alive comment (`: ping - <time>`, the subscription's, after
    15 s of silence); the lines before it. Fails if none comes within `within_s`."""
    seen: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in lines:
            if line.startswith(":"):
                found.set()
                return
            seen.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    assert found.wait(within_s), f"no keep-alive in {within_s} s; read {seen[-5:]}"
    reader.join(5)
    return seen


def test_postgres_restart_mid_run(
    node: tuple[RunningServer, PrivatePostgres], fake: FakeUpstream
) -> None:
    server, postgres = node
    fake.script(Turn(text=LONG, itl_s=0.02), Turn(text=LONG, itl_s=0.02), Turn(text=WORDS))
    with streamed_and_polled(server) as mid:
        http = mid.http
        postgres.stop()  # mid-run, a stream attached
        down = http.get(f"/threads/{mid.thread_id}/runs/{mid.run_id}")
        assert down.status_code == 503, down.text
        error = down.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert "id" not in down.json()  # never a partial object
        listed = http.get("/assistants")
        assert listed.status_code == 503, listed.text
        before = read_frames(iter(_until_keepalive(mid.lines, 25)))  # still down meanwhile
        assert http.get("/assistants").status_code == 503
        postgres.start()  # the restart: the stream ends once the run's end is written
        rest = mid.rest(45, "after PostgreSQL came back")
        events = [event for _, event, _ in [*before, *rest]]
        assert events[-1:] == ["done"], events[-5:]
        ended = {f"thread.run.{status}" for status in TERMINAL}
        assert events[-2] in ended, events[-5:]  # the run's end, then the stream's
        assert _status_after_restart(http, mid.thread_id, mid.run_id) in TERMINAL
        assert _status_after_restart(http, mid.polled_thread, mid.polled_id) in TERMINAL
        # Neither thread stays locked: each takes a new run, which completes.
        for thread in (mid.thread_id, mid.polled_thread):
            fake.script(Turn(text=WORDS))
            run = mid.client.beta.threads.runs.create_and_poll(
                thread_id=thread, assistant_id=mid.assistant_id, poll_interval_ms=50
            )
            assert run.status == "completed", run.last_error
