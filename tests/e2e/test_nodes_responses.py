"""Background responses across nodes (three `assistantd serve` processes on one PostgreSQL
database, events through Redis): streamed from another node with `starting_after`, cancelled
from any node, and, when the node generating them is SIGKILLed, generated again by another
node if nothing of an answer was seen yet, else ended cleanly.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.conftest import _database_url
from tests.e2e.conftest import Connect
from tests.e2e.test_nodes import RETAKEN, node_env, stale_attempt_envs
from tests.fakes.upstream import FakeUpstream, Turn
from tests.support.process import spawn_nodes, spawn_server
from tests.support.redis import drop_prefix, fresh_prefix, shared_redis_url

TERMINAL = {"completed", "failed", "cancelled", "incomplete"}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    with ExitStack() as stack:
        yield _database_url("postgres", stack, tmp_path)


@pytest.fixture
def nodes(tmp_path: Path, database: str, fake: FakeUpstream) -> Iterator[list[tuple[str, Any]]]:
    redis_url, prefix = shared_redis_url(), fresh_prefix()
    env = node_env(
        tmp_path, database, fake, ASSISTANTD_REDIS_URL=redis_url, ASSISTANTD_REDIS_PREFIX=prefix
    )
    with ExitStack() as stack:
        stack.callback(drop_prefix, redis_url, prefix)
        yield stack.enter_context(spawn_nodes(env, ["all", "all", "all"]))


def wait_status(api: openai.OpenAI, response_id: str, statuses: set[str], within_s: float) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        response = api.responses.retrieve(response_id)
        if response.status in statuses or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def test_a_background_response_streams_from_another_node_and_resumes(
    nodes: list[tuple[str, Any]], fake: FakeUpstream, connect: Connect
) -> None:
    """Created on A, streamed from B after event 3 while A generates it: B's stream has every
    later event in order and ends with `response.completed`; C reads it completed."""
    words = " ".join(f"w{i}" for i in range(40))
    fake.script(Turn(text=words, itl_s=0.03))
    [(url_a, _), (url_b, _), (url_c, _)] = nodes
    api_a, api_b, api_c = connect(url_a), connect(url_b), connect(url_c)
    response = api_a.responses.create(model="gpt-4o", input="go", background=True)
    wait_status(api_b, response.id, {"in_progress"} | TERMINAL, 10)
    events = list(api_b.responses.retrieve(response.id, stream=True, starting_after=3))
    numbers = [event.sequence_number for event in events]
    assert numbers == list(range(4, 4 + len(events))), numbers
    assert events[-1].type == "response.completed"
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert words.endswith(deltas) and len(deltas) > len(words) // 2
    done = api_c.responses.retrieve(response.id)
    assert done.status == "completed" and done.output_text == words


def test_cancel_from_another_node_stops_the_generation_where_it_runs(
    nodes: list[tuple[str, Any]], fake: FakeUpstream, connect: Connect
) -> None:
    """Generated on A (its model stalls), cancelled from C: `cancelled`, A hangs up on the
    model, and a stream of it on B ends."""
    fake.script(Turn(text="one two three four five", stall_after=2))
    [(url_a, _), (url_b, _), (url_c, _)] = nodes
    api_a, api_b, api_c = connect(url_a), connect(url_b), connect(url_c)
    response = api_a.responses.create(model="gpt-4o", input="go", background=True)
    assert wait_status(api_b, response.id, {"in_progress"}, 10).status == "in_progress"
    seen: list[str] = []
    stream = api_b.responses.retrieve(response.id, stream=True)

    def read() -> None:
        for event in stream:
            seen.append(event.type)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 10
    while not fake.stalled:  # `in_progress` is stored before the model call starts
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.3)  # B's stream attaches
    cancelled = api_c.responses.cancel(response.id)
    assert cancelled.status == "cancelled"
    assert api_a.responses.retrieve(response.id).status == "cancelled"
    deadline = time.monotonic() + 5
    while fake.aborted == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.aborted == 1  # A hung up on the model
    reader.join(10)
    assert not reader.is_alive(), "B's stream did not end"
    assert seen[:2] == ["response.created", "response.in_progress"], seen
    # A finished response is returned as it is, from any node.
    assert api_b.responses.cancel(response.id).status == "cancelled"


def test_kill_9_of_the_generating_node_ends_its_responses_cleanly(
    nodes: list[tuple[str, Any]], fake: FakeUpstream, connect: Connect
) -> None:
    """A is SIGKILLed while it generates a background response (B streams it) and a queued
    one: another node takes them over within the lease's time and ends them `failed`
    (`server_error`), B's stream ends with `response.failed`; C cancels a third (its model
    stalled on A) after the kill: `cancelled`."""
    long = Turn(text=" ".join(f"x{i}" for i in range(400)), itl_s=0.05)
    stalls = Turn(text="stalls after one word", stall_after=1)

    def by_input(body: dict[str, Any]) -> Turn:  # (the two calls may reach it in any order)
        return long if "long" in str(body["messages"]) else stalls

    fake.script(by_input, by_input)
    [(url_a, process_a), (url_b, _), (url_c, _)] = nodes
    api_a, api_b, api_c = connect(url_a), connect(url_b), connect(url_c)
    streamed = api_a.responses.create(model="gpt-4o", input="long", background=True)
    stalled = api_a.responses.create(model="gpt-4o", input="stall", background=True)
    for response in (streamed, stalled):
        found = wait_status(api_b, response.id, {"in_progress"}, 10)
        assert found.status == "in_progress", (found.status, found.output_text)
    seen: list[Any] = []
    stream = api_b.responses.retrieve(streamed.id, stream=True)
    reader = threading.Thread(target=lambda: seen.extend(iter(stream)), daemon=True)
    reader.start()
    time.sleep(1.0)
    process_a.send_signal(signal.SIGKILL)
    process_a.wait()
    cancelled = api_c.responses.cancel(stalled.id)  # waits for the takeover
    assert cancelled.status == "cancelled"
    failed = wait_status(api_b, streamed.id, TERMINAL, 20)
    assert failed.status == "failed", failed.status
    assert failed.error is not None and failed.error.code == "server_error"
    reader.join(10)
    assert not reader.is_alive(), "B's stream did not end"
    assert seen[-1].type == "response.failed"
    numbers = [event.sequence_number for event in seen]
    assert numbers == sorted(set(numbers))
    # The surviving nodes still generate.
    fake.script(Turn(text="after the kill"))
    again = api_c.responses.create(model="gpt-4o", input="go")
    assert again.output_text == "after the kill"
    assert api_b.responses.retrieve(stalled.id).status == "cancelled"


def test_kill_9_before_any_output_generates_the_response_again_on_another_node(
    nodes: list[tuple[str, Any]], fake: FakeUpstream, connect: Connect
) -> None:
    """A is SIGKILLed while its model has not answered yet (B streams the response): nothing
    of an answer was seen, so the node that takes it over generates it again, in the same
    stream. B's stream goes on in order to `response.completed` and shows one output, the new
    one; the response is `completed` with it."""
    fake.script(Turn(text="never seen", stall_after=0), Turn(text="the answer, again"))
    [(url_a, process_a), (url_b, _), (url_c, _)] = nodes
    api_a, api_b, api_c = connect(url_a), connect(url_b), connect(url_c)
    response = api_a.responses.create(model="gpt-4o", input="go", background=True)
    assert wait_status(api_b, response.id, {"in_progress"}, 10).status == "in_progress"
    deadline = time.monotonic() + 10
    while not fake.stalled:  # A's model call is under way, with nothing answered
        assert time.monotonic() < deadline
        time.sleep(0.02)
    seen: list[Any] = []
    stream = api_b.responses.retrieve(response.id, stream=True)
    reader = threading.Thread(target=lambda: seen.extend(iter(stream)), daemon=True)
    reader.start()
    time.sleep(0.5)  # B's stream attaches
    process_a.send_signal(signal.SIGKILL)
    process_a.wait()
    done = wait_status(api_c, response.id, TERMINAL, 30)
    assert done.status == "completed", (done.status, done.error)
    assert done.output_text == "the answer, again"
    assert len(fake.requests) == 2  # generated again, once
    reader.join(10)
    assert not reader.is_alive(), "B's stream did not end"
    types = [event.type for event in seen]
    assert types[:2] == ["response.created", "response.in_progress"], types
    assert types.count("response.created") == 1 and types[-1] == "response.completed", types
    numbers = [event.sequence_number for event in seen]
    assert numbers == list(range(len(seen))), numbers
    deltas = "".join(e.delta for e in seen if e.type == "response.output_text.delta")
    assert deltas == "the answer, again"
    assert api_b.responses.retrieve(response.id).output_text == "the answer, again"


def test_a_stale_generation_publishes_nothing_on_the_stream_of_the_new_one(
    tmp_path: Path, database: str, fake: FakeUpstream, connect: Connect
) -> None:
    """A's lease lapses (its heartbeat is slower than the lease) while its model has not
    answered: B takes the response over and generates it again, slowly, in the same stream.
    A's answer arrives meanwhile and A publishes it (to its `response.completed`) before its
    final write is refused: Redis refuses those events (B's claim raised the response's
    attempt). C's stream shows one output, B's, numbered in order, to B's completion."""
    with ExitStack() as stack:
        slow, env = stale_attempt_envs(stack, tmp_path, database, fake)
        url_a, _ = stack.enter_context(spawn_server(slow))
        [(url_b, _), (url_c, _)] = stack.enter_context(spawn_nodes(env, ["all", "all"]))
        api_a, api_c = connect(url_a), connect(url_c)
        response = api_a.responses.create(model="gpt-4o", input="go", background=True)
        assert wait_status(api_c, response.id, {"in_progress"}, 10).status == "in_progress"
        seen = list(api_c.responses.retrieve(response.id, stream=True))
        done = wait_status(api_c, response.id, TERMINAL, 30)
        assert done.status == "completed", (done.status, done.error)
        assert done.output_text == RETAKEN
        assert len(fake.requests) == 2  # A's (answered at 6 s, while B's streamed) and B's
        types = [event.type for event in seen]
        assert types.count("response.created") == 1 and types[-1] == "response.completed", types
        assert types.count("response.output_item.added") == 1, types
        numbers = [event.sequence_number for event in seen]
        assert numbers == list(range(len(seen))), numbers
        deltas = "".join(e.delta for e in seen if e.type == "response.output_text.delta")
        assert deltas == RETAKEN
        assert connect(url_b).responses.retrieve(response.id).output_text == RETAKEN


def test_a_node_starting_leaves_the_responses_of_live_nodes_alone(
    tmp_path: Path, database: str, fake: FakeUpstream, connect: Connect
) -> None:
    """B starts while A generates a background response: the response goes on and completes
    (start-up used to fail every unfinished response, a live node's included)."""
    words = " ".join(f"w{i}" for i in range(80))
    fake.script(Turn(text=words, itl_s=0.5))  # 40 s: still under way while B starts
    env = node_env(tmp_path, database, fake)
    with spawn_server(env) as (url_a, _):
        api_a = connect(url_a)
        response = api_a.responses.create(model="gpt-4o", input="go", background=True)
        assert wait_status(api_a, response.id, {"in_progress"}, 10).status == "in_progress"
        with spawn_server(env) as (url_b, _):
            api_b = connect(url_b)
            assert api_b.responses.retrieve(response.id).status == "in_progress"
            done = wait_status(api_b, response.id, TERMINAL, 60)
        assert done.status == "completed", done.error
        assert done.output_text == words
