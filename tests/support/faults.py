"""The common shape of the fault tests (a service restarted mid-run): one streamed run with
its SSE stream attached and one polled run, both under way, on one server; and reading the
rest of that stream on a thread so a hang fails the test instead of blocking it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import openai

from tests.conftest import KEY_A
from tests.e2e.test_run_events import Frame, read_frames, start_thread
from tests.support.server import RunningServer


@dataclass
class MidRun:
    client: openai.OpenAI
    http: httpx.Client
    assistant_id: str
    thread_id: str  # the streamed run's thread
    run_id: str  # the streamed run
    head: list[Frame]  # the stream's first frames, read before the fault
    polled_thread: str
    polled_id: str  # the polled run
    lines: Iterator[str]  # the rest of the attached stream

    def rest(self, within_s: float, what: str) -> list[Frame]:
        """The stream's remaining frames; fails if it has not ended within `within_s`."""
        frames: list[Frame] = []
        reader = threading.Thread(target=lambda: frames.extend(read_frames(self.lines)))
        reader.start()
        reader.join(within_s)
        assert not reader.is_alive(), f"the stream hung {what}"
        return frames


@contextmanager
def streamed_and_polled(server: RunningServer) -> Iterator[MidRun]:
    """Starts both runs (the fake upstream must be scripted for two turns) and yields once the
    streamed one has sent ten frames; the stream stays attached for the body of the block."""
    client = openai.OpenAI(base_url=server.api, api_key=KEY_A, max_retries=0)
    http = httpx.Client(
        base_url=server.api, headers={"Authorization": f"Bearer {KEY_A}"}, timeout=30
    )
    with client, http:
        assistant_id, thread_id = start_thread(client)
        _, polled_thread = start_thread(client)
        polled = client.beta.threads.runs.create(thread_id=polled_thread, assistant_id=assistant_id)
        body = {"assistant_id": assistant_id, "stream": True}
        with http.stream("POST", f"/threads/{thread_id}/runs", json=body) as response:
            lines = response.iter_lines()
            head = read_frames(lines, until=10)
            yield MidRun(
                client=client,
                http=http,
                assistant_id=assistant_id,
                thread_id=thread_id,
                run_id=str(head[0][2]["id"]),
                head=head,
                polled_thread=polled_thread,
                polled_id=polled.id,
                lines=lines,
            )
