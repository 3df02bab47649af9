"""Several nodes on one PostgreSQL database (real `assistantd serve` processes on their own
ports): runs are leased jobs that any node may execute, take over or cancel.

Each test makes its own database; the nodes are OS processes so that they can be SIGKILLed,
SIGSTOPped and SIGTERMed.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.conftest import API_KEYS, KEY_A, _database_url
from tests.e2e.conftest import Connect
from tests.fakes.upstream import Call, FakeUpstream, Turn
from tests.support.process import ROOT, spawn_nodes, spawn_server
from tests.support.redis import drop_prefix, fresh_prefix, shared_redis_url

TERMINAL = {"completed", "failed", "cancelled", "expired", "incomplete"}
AUTH = {"Authorization": f"Bearer {KEY_A}", "OpenAI-Beta": "assistants=v2"}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    with ExitStack() as stack:
        yield _database_url("postgres", stack, tmp_path)


def node_env(tmp_path: Path, database: str, fake: FakeUpstream, **extra: str) -> dict[str, str]:
    return {
        "ASSISTANTD_DATA_DIR": str(tmp_path),  # one machine: the nodes share the blob directory
        "ASSISTANTD_DATABASE_URL": database,
        "ASSISTANTD_API_KEYS": API_KEYS,
        "ASSISTANTD_UPSTREAM_BASE_URL": fake.base_url,
        "ASSISTANTD_UPSTREAM_MAX_RETRIES": "0",
        "ASSISTANTD_LEASE_TTL_S": "3",
        "ASSISTANTD_LEASE_HEARTBEAT_S": "0.5",
        **extra,
    }


RETAKEN = " ".join(f"w{i}" for i in range(80))  # the answer of the attempt that took over


def stale_attempt_envs(
    stack: ExitStack, tmp_path: Path, database: str, fake: FakeUpstream
) -> tuple[dict[str, str], dict[str, str]]:
    """For a stale attempt on a shared Redis (a fresh key prefix, dropped by `stack`): the
    model's first answer comes after 6 s ("stale answer from A"), the second is `RETAKEN`, 80
    words at 10 per second. Returns the environment of the node whose lease lapses while it
    waits (one heartbeat at its start, then none) and that of the others."""
    redis_url, prefix = shared_redis_url(), fresh_prefix()
    stack.callback(drop_prefix, redis_url, prefix)
    fake.script(Turn(text="stale answer from A", ttft_s=6), Turn(text=RETAKEN, itl_s=0.1))
    env = node_env(
        tmp_path, database, fake, ASSISTANTD_REDIS_URL=redis_url, ASSISTANTD_REDIS_PREFIX=prefix
    )
    return {**env, "ASSISTANTD_LEASE_HEARTBEAT_S": "120"}, env


def wait_terminal(api: openai.OpenAI, thread_id: str, run_id: str, within_s: float) -> Any:
    deadline = time.monotonic() + within_s
    while True:
        run = api.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
        if run.status in TERMINAL or time.monotonic() > deadline:
            return run
        time.sleep(0.1)


def assistant_messages(api: openai.OpenAI, thread_id: str) -> list[Any]:
    messages = api.beta.threads.messages.list(thread_id, limit=100)
    return [m for m in messages if m.role == "assistant"]


def text_of(message: Any) -> str:
    return "".join(part.text.value for part in message.content if part.type == "text")


def test_start_up_leaves_the_runs_of_live_nodes_alone(
    tmp_path: Path, database: str, fake: FakeUpstream, connect: Connect
) -> None:
    """A node that starts while another executes a run does not touch that run (the single
    process scheduler failed every unfinished run at start-up)."""
    words = " ".join(f"w{i}" for i in range(80))
    fake.script(Turn(text=words, itl_s=0.5))  # 40 s: running while B starts (slow to start)
    env = node_env(tmp_path, database, fake)
    with spawn_server(env) as (url_a, _):
        api = connect(url_a)
        assistant = api.beta.assistants.create(model="gpt-4o")
        thread = api.beta.threads.create(messages=[{"role": "user", "content": "x"}])
        run = api.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        with spawn_server(env) as (url_b, _):  # starts while the run streams on A
            assert api.beta.threads.runs.retrieve(run.id, thread_id=thread.id).status in (
                "queued",
                "in_progress",
            )
            done = wait_terminal(connect(url_b), thread.id, run.id, 60)
        assert done.status == "completed", done.last_error
        [message] = assistant_messages(api, thread.id)
        assert text_of(message) == words


def test_cancel_on_a_third_node_stops_the_run_where_it_executes(
    tmp_path: Path, database: str, fake: FakeUpstream, connect: Connect
) -> None:
    """Created on A (API only), executed on B (the only worker), cancelled from C (API only):
    the run is cancelled and B's upstream request aborted."""
    fake.script(Turn(text="one two three four five", stall_after=2))
    env = node_env(tmp_path, database, fake)
    with spawn_nodes(env, ["api", "worker", "api"]) as [(url_a, _), _b, (url_c, _)]:
        api_a, api_c = connect(url_a), connect(url_c)
        assistant = api_a.beta.assistants.create(model="gpt-4o")
        thread = api_a.beta.threads.create(messages=[{"role": "user", "content": "x"}])
        run = api_a.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        deadline = time.monotonic() + 15
        while not list(api_a.beta.threads.messages.list(thread.id, run_id=run.id)):
            assert time.monotonic() < deadline, "the worker never started the run"
            time.sleep(0.05)
        assert fake.aborted == 0
        cancelling = api_c.beta.threads.runs.cancel(run.id, thread_id=thread.id)
        assert cancelling.status == "cancelling"
        done = wait_terminal(api_c, thread.id, run.id, 5)
        assert done.status == "cancelled"
        deadline = time.monotonic() + 5
        while fake.aborted == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert fake.aborted == 1  # the worker hung up on the model
        [message] = assistant_messages(api_a, thread.id)
        assert message.status == "incomplete"


def test_submit_tool_outputs_through_another_node_streams_the_rest(
    tmp_path: Path, database: str, fake: FakeUpstream, connect: Connect
) -> None:
    """A run that A started waits for tool outputs; B continues it, and the SDK's stream
    helper sees the rest of the run complete and in order."""
    fake.script(Turn(tool_calls=[Call("lookup", '{"q": "x"}', id="call_1")]))
    fake.script(Turn(text="the answer is 42", itl_s=0.01))
    env = node_env(tmp_path, database, fake)
    with spawn_nodes(env, ["all", "all"]) as [(url_a, _), (url_b, _)]:
        api_a, api_b = connect(url_a), connect(url_b)
        tool = {"type": "function", "function": {"name": "lookup"}}
        assistant = api_a.beta.assistants.create(model="gpt-4o", tools=[tool])  # type: ignore[list-item]
        thread = api_a.beta.threads.create(messages=[{"role": "user", "content": "x"}])
        run = api_a.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
        )
        assert run.status == "requires_action"
        names: list[str] = []
        with api_b.beta.threads.runs.submit_tool_outputs_stream(
            run_id=run.id,
            thread_id=thread.id,
            tool_outputs=[{"tool_call_id": "call_1", "output": "42"}],
        ) as stream:
            for event in stream:
                names.append(event.event)
            final = stream.get_final_run()
        assert names[:3] == [
            "thread.run.step.completed",
            "thread.run.queued",
            "thread.run.in_progress",
        ]
        assert names[-1] == "thread.run.completed"
        assert "thread.message.delta" in names
        assert names.index("thread.message.created") < names.index("thread.message.completed")
        assert final.status == "completed"
        assert [text_of(m) for m in assistant_messages(api_a, thread.id)] == ["the answer is 42"]
        second = fake.requests[1]["messages"]
        assert second[-1] == {"role": "tool", "tool_call_id": "call_1", "content": "42"}


def test_a_stale_attempt_is_fenced(
    tmp_path: Path, database: str, fake: FakeUpstream, connect: Connect
) -> None:
    """A node that stops renewing its leases (here: a heartbeat slower than the lease) is
    presumed dead while it still runs a run: B takes the run over and executes it again
    (nothing of it was committed but its status). When A's model answer arrives, every write
    A tries is refused: the thread keeps one assistant message, B's."""
    fake.script(Turn(text="stale answer from A", ttft_s=8))
    fake.script(Turn(text="answer from B"))
    env = node_env(tmp_path, database, fake)
    slow = {**env, "ASSISTANTD_LEASE_HEARTBEAT_S": "120"}  # one beat at start, then none
    with spawn_server(slow) as (url_a, _), spawn_server(env) as (url_b, _):
        api_a, api_b = connect(url_a), connect(url_b)
        assistant = api_a.beta.assistants.create(model="gpt-4o")
        thread = api_a.beta.threads.create(messages=[{"role": "user", "content": "x"}])
        run = api_a.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        done = wait_terminal(api_b, thread.id, run.id, 30)
        assert done.status == "completed"
        assert len(fake.requests) == 2  # A's call is still waiting for its first token
        time.sleep(8)  # A's answer arrives; its writes are refused
        [message] = assistant_messages(api_b, thread.id)
        assert text_of(message) == "answer from B"
        run = api_b.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        assert run.status == "completed" and run.completed_at == done.completed_at
        steps = list(api_b.beta.threads.runs.steps.list(run.id, thread_id=thread.id))
        assert len(steps) == 1
        assert fake.aborted == 0  # A read its answer to the end (then could not write it)


def sse_events(url: str, path: str, body: dict[str, Any]) -> list[tuple[str, Any]]:
    """(event, data) of a streamed POST, to its end (`done` included, its data a string)."""
    events: list[tuple[str, Any]] = []
    name = None
    with (
        httpx.Client(timeout=60) as raw,
        raw.stream("POST", f"{url}{path}", json=body, headers=AUTH) as r,
    ):
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: ") and name is not None:
                data = line[6:]
                events.append((name, data if data == "[DONE]" else json.loads(data)))
                name = None
    return events


def test_a_stale_attempts_events_never_reach_the_shared_stream(
    tmp_path: Path, database: str, fake: FakeUpstream, connect: Connect
) -> None:
    """Events through Redis: a streamed run created on A; A's lease lapses (its heartbeat is
    slower than the lease) while its model call waits, B takes the run over and answers it
    again, slowly. A's answer arrives while B's streams: A publishes its message and deltas
    before its writes are refused, and Redis refuses them too (B's claim raised the run's
    attempt). The stream A serves has one message, B's, complete and in order."""
    with ExitStack() as stack:
        slow, env = stale_attempt_envs(stack, tmp_path, database, fake)
        url_a, _ = stack.enter_context(spawn_server(slow))
        url_b, _ = stack.enter_context(spawn_server(env))
        api_a, api_b = connect(url_a), connect(url_b)
        assistant = api_a.beta.assistants.create(model="gpt-4o")
        thread = api_a.beta.threads.create(messages=[{"role": "user", "content": "x"}])
        body = {"assistant_id": assistant.id, "stream": True}
        events = sse_events(url_a, f"/v1/threads/{thread.id}/runs", body)
        wait_idle(url_a, 30)  # A read its answer (while B streamed) and could not write it
        assert len(fake.requests) == 2 and fake.aborted == 0
        names = [name for name, _ in events]
        assert names.count("thread.message.created") == 1, names
        assert names.count("thread.run.step.created") == 1, names
        assert names[-2:] == ["thread.run.completed", "done"], names[-5:]
        deltas = [data for name, data in events if name == "thread.message.delta"]
        assert "".join(d["delta"]["content"][0]["text"]["value"] for d in deltas) == RETAKEN
        [created] = [data for name, data in events if name == "thread.message.created"]
        [message] = assistant_messages(api_b, thread.id)
        assert created["id"] == message.id and text_of(message) == RETAKEN
        assert {d["id"] for d in deltas} == {message.id}


def runs_in_flight(url: str) -> float:
    """The node's `runs_in_flight` gauge: runs with a task in that process."""
    for line in httpx.get(f"{url}/metrics", timeout=10).text.splitlines():
        if line.startswith("assistantd_runs_in_flight "):
            return float(line.split()[1])
    raise AssertionError("no runs_in_flight gauge")


def wait_idle(url: str, within_s: float) -> None:
    deadline = time.monotonic() + within_s
    while runs_in_flight(url) > 0:
        assert time.monotonic() < deadline, f"{url} still runs a run"
        time.sleep(0.1)


def test_a_stale_attempt_that_fails_closes_nothing_of_the_new_one(
    tmp_path: Path, database: str, fake: FakeUpstream, connect: Connect
) -> None:
    """A's model call hangs and A's lease lapses (its heartbeat is slower than the lease); B
    takes the run over and runs it again (nothing of it was under way). While B's answer
    streams, A's call times out and A fails the run: that is refused, and so is closing the
    run's open step and message, which are B's (they end `completed`, without A's error)."""
    words = " ".join(f"w{i}" for i in range(80))
    fake.script(Turn(text="never", ttft_s=30), Turn(text=words, itl_s=0.1))  # B's: 8 s
    env = node_env(tmp_path, database, fake)
    slow = {**env, "ASSISTANTD_LEASE_HEARTBEAT_S": "120", "ASSISTANTD_UPSTREAM_TIMEOUT_S": "8"}
    with (
        spawn_server(slow) as (url_a, _),
        spawn_server(env) as (url_b, _),
        connect(url_a) as api_a,
        connect(url_b) as api_b,
    ):
        assistant = api_a.beta.assistants.create(model="gpt-4o")
        thread = api_a.beta.threads.create(messages=[{"role": "user", "content": "x"}])
        run = api_a.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        done = wait_terminal(api_b, thread.id, run.id, 40)
        assert done.status == "completed", done.last_error
        wait_idle(url_a, 30)  # A's call timed out (while B streamed) and A tried to fail it
        deadline = time.monotonic() + 5
        while fake.aborted == 0:  # A hung up on the model
            assert time.monotonic() < deadline
            time.sleep(0.05)
        [message] = assistant_messages(api_b, thread.id)
        assert text_of(message) == words
        assert message.status == "completed"
        assert message.incomplete_at is None and message.incomplete_details is None
        [step] = api_b.beta.threads.runs.steps.list(run.id, thread_id=thread.id)
        assert step.status == "completed" and step.completed_at is not None
        assert step.last_error is None and step.failed_at is None
        run = api_b.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        assert run.status == "completed" and run.last_error is None


def test_a_stale_file_search_writes_nothing(
    tmp_path: Path, database: str, fake: FakeUpstream, connect: Connect
) -> None:
    """A's model streams a file_search call slowly; meanwhile A's lease lapses (its heartbeat
    is slower than the lease), and B takes the run over and fails it (a tool call was under
    way). When A's stream ends, A's search is refused before it writes anything (the vector
    store is not touched) and the step keeps no results. The thread's next run, on B,
    searches once: its step has the results and the store was used then."""
    env = node_env(
        tmp_path,
        database,
        fake,
        ASSISTANTD_EMBEDDING_MODEL="fake-embed",
        ASSISTANTD_EMBEDDING_DIMENSIONS="8",
    )
    slow = {**env, "ASSISTANTD_LEASE_HEARTBEAT_S": "120"}  # one beat at start, then none
    with (
        spawn_server(slow) as (url_a, _),
        spawn_server(env) as (url_b, _),
        connect(url_a) as api_a,
        connect(url_b) as api_b,
    ):
        doc = api_a.files.create(
            file=("refunds.txt", b"The refund window is 30 days."), purpose="assistants"
        )
        store = api_a.vector_stores.create(name="docs", file_ids=[doc.id])
        deadline = time.monotonic() + 30
        while (store := api_a.vector_stores.retrieve(store.id)).status != "completed":
            assert time.monotonic() < deadline, "the file was never ingested"
            time.sleep(0.1)
        search = Call("file_search", '{"queries": ["refund window"]}', chunks=1)
        fake.script(Turn(tool_calls=[search], itl_s=8))  # the arguments come 8 s after the call
        assistant = api_a.beta.assistants.create(
            model="gpt-4o",
            tools=[{"type": "file_search"}],
            tool_resources={"file_search": {"vector_store_ids": [store.id]}},
        )
        thread = api_a.beta.threads.create(messages=[{"role": "user", "content": "refunds?"}])
        run = api_a.beta.threads.runs.create(thread_id=thread.id, assistant_id=assistant.id)
        done = wait_terminal(api_b, thread.id, run.id, 30)
        assert done.status == "failed" and done.last_error is not None
        assert done.last_error.code == "server_error"  # taken over mid-call: not repeated
        wait_idle(url_a, 30)  # A's stream ended and its attempt stopped
        assert api_b.vector_stores.retrieve(store.id).last_active_at == store.last_active_at
        [step] = api_b.beta.threads.runs.steps.list(run.id, thread_id=thread.id)
        assert step.status == "failed"
        calls = step.step_details.tool_calls  # type: ignore[union-attr]
        assert not any(call.file_search.results for call in calls)  # type: ignore[union-attr]

        def answer(body: dict[str, Any]) -> Turn:  # embeddings requests take one turn too
            if any(m.get("role") == "tool" for m in body.get("messages", [])):
                return Turn(text="Refunds: 30 days.")
            return Turn(tool_calls=[Call("file_search", '{"queries": ["refund window"]}')])

        fake.script(*[answer] * 4)
        api_b.beta.threads.messages.create(thread.id, role="user", content="again")
        again = api_b.beta.threads.runs.create_and_poll(
            thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
        )
        assert again.status == "completed", again.last_error
        steps = api_b.beta.threads.runs.steps.list(
            again.id,
            thread_id=thread.id,
            include=["step_details.tool_calls[*].file_search.results[*].content"],
        )
        [found] = [
            call.file_search.results  # type: ignore[union-attr]
            for step in steps
            if step.step_details.type == "tool_calls"
            for call in step.step_details.tool_calls
        ]
        assert [result.file_id for result in found or []] == [doc.id]
        used = api_b.vector_stores.retrieve(store.id).last_active_at
        assert used is not None and used >= again.created_at


def test_three_nodes_with_redis_stream_created_executed_cancelled_apart(
    tmp_path: Path, database: str, fake: FakeUpstream, connect: Connect
) -> None:
    """A and C serve the API only, B only executes, events go through Redis. The SDK's stream
    helper on A sees B's run complete and in order; a streamed run created on A, executed on B,
    is cancelled from C and A's stream ends with the cancel."""
    redis_url, prefix = shared_redis_url(), fresh_prefix()
    words = " ".join(f"w{i}" for i in range(30))
    fake.script(Turn(text=words, itl_s=0.01))
    fake.script(Turn(text=" ".join(f"x{i}" for i in range(400)), itl_s=0.02))  # 8 s
    env = node_env(
        tmp_path, database, fake, ASSISTANTD_REDIS_URL=redis_url, ASSISTANTD_REDIS_PREFIX=prefix
    )
    with ExitStack() as stack:
        stack.callback(drop_prefix, redis_url, prefix)
        [(url_a, _), _b, (url_c, _)] = stack.enter_context(
            spawn_nodes(env, ["api", "worker", "api"])
        )
        api_a, api_c = connect(url_a), connect(url_c)
        assistant = api_a.beta.assistants.create(model="gpt-4o")
        thread = api_a.beta.threads.create(messages=[{"role": "user", "content": "x"}])
        names: list[str] = []
        deltas: list[str] = []
        with api_a.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=assistant.id
        ) as stream:
            for event in stream:
                names.append(event.event)
                if event.event == "thread.message.delta":
                    deltas.append(event.data.delta.content[0].text.value)  # type: ignore[union-attr]
            final = stream.get_final_run()
        assert final.status == "completed"
        assert "".join(deltas) == words  # every delta, in order
        lifecycle = [n for n in names if not n.endswith(".delta")]
        assert lifecycle == [
            "thread.run.created",
            "thread.run.queued",
            "thread.run.in_progress",
            "thread.run.step.created",
            "thread.run.step.in_progress",
            "thread.message.created",
            "thread.message.in_progress",
            "thread.message.completed",
            "thread.run.step.completed",
            "thread.run.completed",
        ]
        streamed: list[str] = []
        with api_a.beta.threads.runs.stream(
            thread_id=thread.id, assistant_id=assistant.id
        ) as stream:
            for event in stream:
                streamed.append(event.event)
                if event.event == "thread.message.delta" and streamed.count(event.event) == 3:
                    run_id = stream.current_run.id  # type: ignore[union-attr]
                    cancelling = api_c.beta.threads.runs.cancel(run_id, thread_id=thread.id)
                    assert cancelling.status == "cancelling"
        assert streamed[-1] == "thread.run.cancelled", streamed[-5:]
        assert streamed.count("thread.message.delta") < 100  # stopped well before its end
        run = api_c.beta.threads.runs.retrieve(run_id, thread_id=thread.id)
        assert run.status == "cancelled"


def _stream_run(url: str, thread_id: str, assistant_id: str, accepted: threading.Event) -> None:
    body = {"assistant_id": assistant_id, "stream": True}
    try:
        with (
            httpx.Client(timeout=60) as raw,
            raw.stream("POST", f"{url}/v1/threads/{thread_id}/runs", json=body, headers=AUTH) as r,
        ):
            assert r.status_code == 200
            accepted.set()
            for _ in r.iter_lines():
                pass
    except httpx.HTTPError:
        pass  # the node was killed under the stream


def test_kill_9_of_the_executing_node_under_load(
    tmp_path: Path, database: str, fake: FakeUpstream, connect: Connect
) -> None:
    """50 runs in flight on A (half streamed, half polled); A is SIGKILLed. Every accepted run
    reaches a terminal status on B within 45 s, none has two assistant messages, and every
    thread takes a new run."""
    words = " ".join(f"w{i}" for i in range(40))
    fake.script(*[Turn(text=words, itl_s=0.1) for _ in range(50)])
    env = node_env(tmp_path, database, fake)
    with spawn_nodes(env, ["all", "all"]) as [(url_a, process_a), (url_b, _)]:
        api_a, api_b = connect(url_a), connect(url_b)
        assistant = api_a.beta.assistants.create(model="gpt-4o")
        threads = [
            api_a.beta.threads.create(messages=[{"role": "user", "content": "x"}]).id
            for _ in range(50)
        ]
        streams = []
        for thread_id in threads[:25]:
            accepted = threading.Event()
            worker = threading.Thread(
                target=_stream_run, args=(url_a, thread_id, assistant.id, accepted), daemon=True
            )
            worker.start()
            streams.append((worker, accepted))
        polled = [
            api_a.beta.threads.runs.create(thread_id=t, assistant_id=assistant.id).id
            for t in threads[25:]
        ]
        assert all(accepted.wait(30) for _, accepted in streams)
        time.sleep(0.5)
        process_a.send_signal(signal.SIGKILL)
        process_a.wait()
        killed_at = time.monotonic()
        runs = {t: api_b.beta.threads.runs.list(t).data for t in threads[:25]}
        run_ids = [(t, runs[t][0].id) for t in threads[:25]]
        run_ids += list(zip(threads[25:], polled, strict=True))
        assert all(len(runs[t]) == 1 for t in threads[:25])
        statuses = {}
        for thread_id, run_id in run_ids:
            left = 45 - (time.monotonic() - killed_at)
            statuses[run_id] = wait_terminal(api_b, thread_id, run_id, max(left, 0)).status
        assert set(statuses.values()) <= TERMINAL, statuses
        for thread_id in threads:
            assert len(assistant_messages(api_b, thread_id)) <= 1
            api_b.beta.threads.messages.create(thread_id, role="user", content="unlocked")
        for worker, _ in streams:
            worker.join(timeout=5)
        fake.script(*[Turn(text="again") for _ in range(5)])
        for thread_id in threads[:5]:
            again = api_b.beta.threads.runs.create_and_poll(
                thread_id=thread_id, assistant_id=assistant.id, poll_interval_ms=50
            )
            assert again.status == "completed"


def test_sigterm_drains(
    tmp_path: Path, database: str, fake: FakeUpstream, connect: Connect
) -> None:
    """SIGTERM on A: new runs get 503 with Retry-After (OpenAI's error object) while the
    running ones finish and their streams end with the terminal events; a run longer than
    the drain window is handed to B and ends there; then A exits."""
    short = " ".join(f"s{i}" for i in range(15))

    def answer(body: dict[str, Any]) -> Turn:
        if "long" in str(body["messages"]):
            return Turn(text="long " * 100, itl_s=0.1)  # 10 s: past the drain window
        return Turn(text=short, itl_s=0.1)  # 1.5 s

    fake.script(*[answer] * 5)
    env = node_env(tmp_path, database, fake, ASSISTANTD_DRAIN_WINDOW_S="4")
    with spawn_nodes(env, ["all", "all"]) as [(url_a, process_a), (url_b, _)]:
        api_a, api_b = connect(url_a), connect(url_b)
        assistant = api_a.beta.assistants.create(model="gpt-4o")
        threads = [
            api_a.beta.threads.create(messages=[{"role": "user", "content": content}]).id
            for content in ("x", "x", "x", "x", "long", "x")
        ]
        events: dict[str, list[str]] = {}

        def stream(thread_id: str) -> None:
            names = events.setdefault(thread_id, [])
            body = {"assistant_id": assistant.id, "stream": True}
            with (
                httpx.Client(timeout=60) as raw,
                raw.stream(
                    "POST", f"{url_a}/v1/threads/{thread_id}/runs", json=body, headers=AUTH
                ) as r,
            ):
                for line in r.iter_lines():
                    if line.startswith("event: "):
                        names.append(line.removeprefix("event: "))
                    elif line == "data: [DONE]":
                        names.append("[DONE]")

        workers = [threading.Thread(target=stream, args=(t,), daemon=True) for t in threads[:2]]
        for worker in workers:
            worker.start()
        polled = [
            api_a.beta.threads.runs.create(thread_id=t, assistant_id=assistant.id).id
            for t in threads[2:5]
        ]
        deadline = time.monotonic() + 10
        while len(fake.requests) < 5:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        process_a.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        refused = httpx.post(
            f"{url_a}/v1/threads/{threads[5]}/runs",
            json={"assistant_id": assistant.id},
            headers=AUTH,
            timeout=10,
        )
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        error = refused.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
        assert error["type"] == "server_error" and "shutting down" in error["message"]
        assert api_b.beta.threads.runs.list(threads[5]).data == []  # nothing was created
        for worker in workers:
            worker.join(timeout=20)
        for names in events.values():
            assert names[-3:] == ["thread.run.completed", "done", "[DONE]"], names
        # uvicorn re-raises the signal once it has shut down: the exit is "by SIGTERM"
        assert process_a.wait(timeout=30) == -signal.SIGTERM
        statuses = [
            wait_terminal(api_b, t, r, 30).status for t, r in zip(threads[2:5], polled, strict=True)
        ]
        # the short ones finished on A; the long one was handed to B, which failed it (its
        # answer was under way: running it again could answer twice)
        assert statuses == ["completed", "completed", "failed"], statuses
        long_run = api_b.beta.threads.runs.retrieve(polled[2], thread_id=threads[4])
        assert long_run.last_error is not None and long_run.last_error.code == "server_error"


def test_workers_need_postgresql(tmp_path: Path) -> None:
    env = {
        "ASSISTANTD_DATA_DIR": str(tmp_path),
        "PYTHONPATH": f"{ROOT / 'src'}",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-m", "assistantd", "serve", "--workers", "2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "need PostgreSQL" in done.stderr


def test_workers_share_one_port(
    tmp_path: Path, database: str, fake: FakeUpstream, connect: Connect
) -> None:
    """`--workers 2`: two processes serve one port and execute runs on the shared database."""
    env = node_env(tmp_path, database, fake)
    # Three processes start one after another (the supervisor, then both workers at once):
    # on a loaded 2-core machine that alone takes most of a minute.
    with spawn_server(env, args=("--workers", "2"), start_s=150) as (url, process):
        api = connect(url)
        assistant = api.beta.assistants.create(model="gpt-4o")
        for _ in range(6):
            thread = api.beta.threads.create(messages=[{"role": "user", "content": "x"}])
            run = api.beta.threads.runs.create_and_poll(
                thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
            )
            assert run.status == "completed"
        pids = subprocess.run(
            ["pgrep", "-f", "spawn_main", "-P", str(process.pid)], capture_output=True, text=True
        ).stdout.split()
        assert len(pids) >= 2
