"""Redis restarted mid-run: Redis holds nothing the database does not, so runs go on and end
correctly in the database; streams attached at that moment end cleanly (an `error` event and
`done`, never a hang); after the restart new runs stream again. With a private redis-server
that the test kills and restarts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from tests.conftest import _database_url, make_settings
from tests.e2e.test_run_events import WORDS, start_thread
from tests.fakes.upstream import FakeUpstream, Turn
from tests.support.faults import streamed_and_polled
from tests.support.redis import PrivateRedis, private_redis
from tests.support.server import RunningServer, run_server

LONG = " ".join(f"w{i}" for i in range(150))


@pytest.fixture
def node(
    tmp_path: Path, fake_upstream: FakeUpstream
) -> Iterator[tuple[RunningServer, PrivateRedis]]:
    with ExitStack() as stack:
        redis = stack.enter_context(private_redis(tmp_path))
        database_url = _database_url("postgres", stack, tmp_path)
        settings = make_settings(
            tmp_path / "data",
            database_url,
            upstream_base_url=fake_upstream.base_url,
            redis_url=redis.url,
        )
        yield stack.enter_context(run_server(settings)), redis


def test_redis_restart_mid_run(
    node: tuple[RunningServer, PrivateRedis], fake: FakeUpstream
) -> None:
    server, redis = node
    fake.script(Turn(text=LONG, itl_s=0.01), Turn(text=LONG, itl_s=0.01), Turn(text=WORDS))
    with streamed_and_polled(server) as mid:
        client, assistant_id = mid.client, mid.assistant_id
        thread_id, run_id = mid.thread_id, mid.run_id
        redis.kill()  # mid-run, a stream attached
        rest = mid.rest(15, "when Redis went away")
        names = [event for _, event, _ in rest]
        assert names[-2:] == ["error", "done"], names[-3:]
        streamed = client.beta.threads.runs.poll(run_id, thread_id=thread_id, poll_interval_ms=50)
        assert streamed.status == "completed"  # the run went on without Redis
        [answer] = list(client.beta.threads.messages.list(thread_id, run_id=run_id))
        assert answer.content[0].text.value == LONG  # type: ignore[union-attr]
        done = client.beta.threads.runs.poll(
            mid.polled_id, thread_id=mid.polled_thread, poll_interval_ms=50
        )
        assert done.status == "completed"
        metrics = httpx.get(f"{server.url}/metrics").text
        [dropped] = [
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith("assistantd_events_dropped ")
        ]
        assert dropped > 0  # what the run published meanwhile was given up, and counted
        redis.start()  # an empty Redis: new runs stream again
        _, third = start_thread(client)
        with client.beta.threads.runs.stream(thread_id=third, assistant_id=assistant_id) as stream:
            stream.until_done()
            assert stream.get_final_run().status == "completed"
            [message] = stream.get_final_messages()
        assert message.content[0].text.value == WORDS  # type: ignore[union-attr]
