"""Upstream connections: model calls one after another reuse one kept-alive connection (a new
TCP, with a real model server TLS, connection per call cost every run's first token), and a
server's shutdown closes them, also when another app of the same process has a response under
way (tests run several apps in one process; an unclosed socket is a ResourceWarning, an error
of the suite)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.conftest import BACKENDS, _database_url, make_settings, sdk
from tests.fakes.upstream import FakeUpstream, Turn
from tests.support.server import run_server


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with ExitStack() as stack:
        yield _database_url(request.param, stack, tmp_path)


def _closed(fake: FakeUpstream, ports: set[int], within_s: float = 10) -> bool:
    """Whether the fake saw every connection from `ports` closed within `within_s`."""
    deadline = time.monotonic() + within_s
    while fake.open_connections() & ports:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_model_calls_reuse_one_connection_closed_at_shutdown(
    tmp_path: Path, database: str, fake: FakeUpstream
) -> None:
    settings = make_settings(tmp_path, database, upstream_base_url=fake.base_url)
    with run_server(settings) as server, sdk(server) as client:
        assistant = client.beta.assistants.create(model="gpt-4o")
        for word in ("one", "two"):
            fake.script(Turn(text=f"run {word}"))
            run = client.beta.threads.create_and_run_poll(
                assistant_id=assistant.id,
                thread={"messages": [{"role": "user", "content": word}]},
            )
            assert run.status == "completed"
        fake.script(Turn(text="a response"))
        response = client.responses.create(model="gpt-4o", input="three")
        assert response.output_text == "a response"
        assert len(fake.peers) == 3
        assert len(set(fake.peers)) == 1, fake.peers  # one connection for the three calls
        used = set(fake.peers)
        assert used <= fake.open_connections()  # kept alive in the server's pool
    assert _closed(fake, used), "the server's shutdown left its upstream connection open"


def test_shutdown_leaves_another_apps_response_alone(tmp_path: Path, fake: FakeUpstream) -> None:
    """Two apps in one process: the second one's shutdown neither touches the first one's
    response under way (a task of another event loop) nor stops before closing its own
    upstream connections."""
    first = make_settings(
        tmp_path / "a", f"sqlite+aiosqlite:///{tmp_path / 'a.db'}", upstream_base_url=fake.base_url
    )
    second = make_settings(
        tmp_path / "b", f"sqlite+aiosqlite:///{tmp_path / 'b.db'}", upstream_base_url=fake.base_url
    )
    with run_server(first) as server_a, sdk(server_a) as client_a:
        slow_text = " ".join(["slow"] * 60)
        fake.script(Turn(text=slow_text, itl_s=0.25))  # 15 s: under way all through B's life
        slow = client_a.responses.create(model="gpt-4o", input="slow", background=True)
        deadline = time.monotonic() + 10
        while not fake.requests:
            assert time.monotonic() < deadline, "the first app's model call did not start"
            time.sleep(0.02)
        with run_server(second) as server_b, sdk(server_b) as client_b:
            fake.script(Turn(text="quick"))
            assert client_b.responses.create(model="gpt-4o", input="quick").output_text == "quick"
            used = {fake.peers[-1]}
        assert _closed(fake, used), "the second app's shutdown broke off before its upstream"
        assert client_a.responses.retrieve(slow.id).status == "in_progress"  # still, as meant
        deadline = time.monotonic() + 30
        while (found := client_a.responses.retrieve(slow.id)).status in ("queued", "in_progress"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert found.status == "completed", found.error
        assert found.output_text == slow_text
