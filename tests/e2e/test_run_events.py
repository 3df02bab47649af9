"""Resumable streams (an extension beyond OpenAI): every event has an `id:`;
`GET /threads/{thread_id}/runs/{run_id}/events?after=ID` (or `Last-Event-ID`) replays what
followed and goes on live. On each backend of the `server` fixture (in-process and Redis
brokers), then across two server processes sharing PostgreSQL and Redis."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import openai
import orjson
import pytest

from tests.conftest import KEY_A, KEY_B, _database_url, make_settings
from tests.fakes.upstream import Call, FakeUpstream, Turn
from tests.support.redis import drop_prefix, fresh_prefix, shared_redis_url
from tests.support.server import RunningServer, run_server
from tests.support.sse import validate_events

WORDS = " ".join(f"w{i}" for i in range(30))
Frame = tuple[str | None, str, Any]  # (id, event, data)


def read_frames(lines: Iterator[str], until: int | None = None) -> list[Frame]:
    """(id, event, data) of each frame, keep-alive comments skipped; stop after `until`."""
    out: list[Frame] = []
    frame_id, event, data = None, "", ""
    for line in lines:
        if line.startswith("id:"):
            frame_id = line[3:].strip()
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
        elif not line and event:
            out.append((frame_id, event, data if data == "[DONE]" else orjson.loads(data)))
            frame_id, event, data = None, "", ""
            if until is not None and len(out) == until:
                break
    return out


def get_events(http: httpx.Client, path: str, **options: Any) -> list[Frame]:
    with http.stream("GET", path, **options) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return read_frames(response.iter_lines())


def as_events(frames: list[Frame]) -> list[tuple[str, Any]]:
    return [(event, data) for _, event, data in frames]


def start_thread(client: openai.OpenAI) -> tuple[str, str]:
    assistant = client.beta.assistants.create(model="gpt-4o")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "talk"}])
    return assistant.id, thread.id


def test_resume_after_any_event(
    client: openai.OpenAI, http: httpx.Client, fake: FakeUpstream
) -> None:
    fake.script(Turn(text=WORDS))
    assistant_id, thread_id = start_thread(client)
    body = {"assistant_id": assistant_id, "stream": True}
    with http.stream("POST", f"/threads/{thread_id}/runs", json=body) as response:
        streamed = read_frames(response.iter_lines())
    validate_events(as_events(streamed))  # the SSE contract holds with ids
    ids = [frame_id for frame_id, _, _ in streamed[:-1]]
    assert all(ids) and len(set(ids)) == len(ids)
    assert streamed[-1] == (None, "done", "[DONE]")
    run_id = streamed[0][2]["id"]
    path = f"/threads/{thread_id}/runs/{run_id}/events"
    assert get_events(http, path) == streamed  # the whole segment, while it is kept
    for position in (0, 5, len(ids) - 2, len(ids) - 1):
        rest = get_events(http, path, params={"after": ids[position]})
        assert rest == streamed[position + 1 :]
        by_header = get_events(http, path, headers={"Last-Event-ID": ids[position]})
        assert by_header == rest


def test_resume_live_while_the_run_streams(
    client: openai.OpenAI, http: httpx.Client, fake: FakeUpstream
) -> None:
    """A client that lost its connection mid-run resumes and gets exactly the missing events,
    then the live ones, then `done`."""
    fake.script(Turn(text=WORDS, itl_s=0.03))
    assistant_id, thread_id = start_thread(client)
    body = {"assistant_id": assistant_id, "stream": True}
    with http.stream("POST", f"/threads/{thread_id}/runs", json=body) as response:
        first = read_frames(response.iter_lines(), until=12)  # then the connection drops
    run_id = first[0][2]["id"]
    path = f"/threads/{thread_id}/runs/{run_id}/events"
    rest = get_events(http, path, params={"after": first[-1][0]})
    events = as_events(first + rest)
    validate_events(events)
    assert events[-2][0] == "thread.run.completed"
    text = "".join(
        data["delta"]["content"][0]["text"]["value"]
        for name, data in events
        if name == "thread.message.delta"
    )
    assert text == WORDS  # nothing missing, nothing twice


def test_events_errors_and_isolation(
    client: openai.OpenAI, http: httpx.Client, server: RunningServer, fake: FakeUpstream
) -> None:
    fake.script(Turn(text="hi"))
    assistant_id, thread_id = start_thread(client)
    run = client.beta.threads.runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
    path = f"/threads/{thread_id}/runs/{run.id}/events"
    # a run that never streamed: nothing to replay
    assert get_events(http, path) == [(None, "done", "[DONE]")]
    bad = http.get(path, params={"after": "not an id"})
    assert bad.status_code == 400
    assert bad.json()["error"]["param"] == "after"
    gone = get_events(http, path, params={"after": "abcdef12.4"})
    assert [event for _, event, _ in gone] == ["error", "done"]
    with httpx.Client(base_url=server.api, headers={"Authorization": f"Bearer {KEY_B}"}) as beta:
        other = beta.get(path)
        assert other.status_code == 404 and other.json()["error"]["type"] == "invalid_request_error"
    wrong_thread = http.get(f"/threads/thread_nope/runs/{run.id}/events")
    assert wrong_thread.status_code == 404


def test_events_in_v1_shapes(client: openai.OpenAI, http: httpx.Client, fake: FakeUpstream) -> None:
    fake.script(Turn(text=WORDS))
    assistant_id, thread_id = start_thread(client)
    body = {"assistant_id": assistant_id, "stream": True}
    with http.stream("POST", f"/threads/{thread_id}/runs", json=body) as response:
        streamed = read_frames(response.iter_lines())
    path = f"/threads/{thread_id}/runs/{streamed[0][2]['id']}/events"
    v1 = get_events(
        http, path, params={"after": streamed[2][0]}, headers={"OpenAI-Beta": "assistants=v1"}
    )
    assert [(i, e) for i, e, _ in v1] == [(i, e) for i, e, _ in streamed[3:]]
    runs = [
        data for _, event, data in v1 if event.startswith("thread.run.") and "." not in event[11:]
    ]
    assert runs and all("file_ids" in run and "tool_resources" not in run for run in runs)


# --- two nodes -----------------------------------------------------------------------------------


@pytest.fixture
def two_nodes(
    tmp_path: Path, fake_upstream: FakeUpstream
) -> Iterator[tuple[RunningServer, RunningServer]]:
    """Two server processes' worth of servers (each its own broker, scheduler and Redis
    connections) on one PostgreSQL database and one Redis prefix."""
    redis_url, prefix = shared_redis_url(), fresh_prefix()
    with ExitStack() as stack:
        database_url = _database_url("postgres", stack, tmp_path)
        stack.callback(drop_prefix, redis_url, prefix)
        nodes = []
        for name in ("a", "b"):
            settings = make_settings(
                tmp_path / name,
                database_url,
                upstream_base_url=fake_upstream.base_url,
                redis_url=redis_url,
                redis_prefix=prefix,
            )
            nodes.append(stack.enter_context(run_server(settings)))
        yield nodes[0], nodes[1]


def node_http(node: RunningServer) -> httpx.Client:
    return httpx.Client(base_url=node.api, headers={"Authorization": f"Bearer {KEY_A}"}, timeout=30)


def test_a_run_on_node_a_streams_from_node_b(
    two_nodes: tuple[RunningServer, RunningServer], fake: FakeUpstream
) -> None:
    """Created and executed on A; a client on B attaches mid-run and sees the complete ordered
    stream (the same frames, ids included); a resume on B returns exactly the missing events."""
    node_a, node_b = two_nodes
    fake.script(Turn(text=WORDS, itl_s=0.02))  # short: well under a sweep of the other node
    with (
        node_http(node_a) as http_a,
        node_http(node_b) as http_b,
        openai.OpenAI(base_url=node_a.api, api_key=KEY_A, max_retries=0) as client,
    ):
        assistant_id, thread_id = start_thread(client)
        body = {"assistant_id": assistant_id, "stream": True}
        from_b: list[list[Frame]] = []
        with http_a.stream("POST", f"/threads/{thread_id}/runs", json=body) as response:
            lines = response.iter_lines()
            head = read_frames(lines, until=8)
            run_id = head[0][2]["id"]
            path = f"/threads/{thread_id}/runs/{run_id}/events"
            reader = threading.Thread(target=lambda: from_b.append(get_events(http_b, path)))
            reader.start()  # attaches on B while A still streams
            streamed = head + read_frames(lines)
        reader.join(30)
        validate_events(as_events(streamed))
        assert streamed[-2][1] == "thread.run.completed"
        assert from_b == [streamed]
        resumed = get_events(http_b, path, params={"after": streamed[9][0]})
        assert resumed == streamed[10:]


def test_cancel_sent_to_node_b_stops_the_run_on_node_a(
    two_nodes: tuple[RunningServer, RunningServer], fake: FakeUpstream
) -> None:
    node_a, node_b = two_nodes
    fake.script(Turn(text=" ".join(f"w{i}" for i in range(400)), itl_s=0.02))
    with (
        node_http(node_a) as http_a,
        openai.OpenAI(base_url=node_a.api, api_key=KEY_A, max_retries=0) as client_a,
        openai.OpenAI(base_url=node_b.api, api_key=KEY_A, max_retries=0) as client_b,
    ):
        assistant_id, thread_id = start_thread(client_a)
        body = {"assistant_id": assistant_id, "stream": True}
        with http_a.stream("POST", f"/threads/{thread_id}/runs", json=body) as response:
            lines = response.iter_lines()
            head = read_frames(lines, until=9)
            assert head[-1][1] == "thread.message.delta"
            run_id = head[0][2]["id"]
            client_b.beta.threads.runs.cancel(run_id, thread_id=thread_id)
            rest = read_frames(lines)
        names = [event for _, event, _ in rest if not event.endswith(".delta")]
        assert names[-3:] == ["thread.run.step.cancelled", "thread.run.cancelled", "done"]
        # the signal crossed processes within 1 s: fewer deltas than 1 s of text (of 8 s)
        assert sum(event == "thread.message.delta" for _, event, _ in rest) < 50
        run = client_b.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
        assert run.status == "cancelled"


def test_tool_outputs_sent_to_node_b_continue_a_run_node_a_started(
    two_nodes: tuple[RunningServer, RunningServer], fake: FakeUpstream
) -> None:
    """A's stream ends at requires_action; B takes the outputs and streams the rest (a new
    segment); each segment can be read and resumed from the other node."""
    node_a, node_b = two_nodes
    fake.script(
        Turn(tool_calls=[Call("get_weather", '{"city": "Oslo"}', id="call_1")]), Turn(text=WORDS)
    )
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    with (
        node_http(node_a) as http_a,
        node_http(node_b) as http_b,
        openai.OpenAI(base_url=node_a.api, api_key=KEY_A, max_retries=0) as client,
    ):
        assistant = client.beta.assistants.create(model="gpt-4o", tools=tools)  # type: ignore[list-item]
        thread = client.beta.threads.create(messages=[{"role": "user", "content": "weather?"}])
        body = {"assistant_id": assistant.id, "stream": True}
        with http_a.stream("POST", f"/threads/{thread.id}/runs", json=body) as response:
            first = read_frames(response.iter_lines())
        assert first[-2][1] == "thread.run.requires_action"
        run_id = first[0][2]["id"]
        path = f"/threads/{thread.id}/runs/{run_id}"
        outputs = {"tool_outputs": [{"tool_call_id": "call_1", "output": "sunny"}], "stream": True}
        with http_b.stream("POST", f"{path}/submit_tool_outputs", json=outputs) as response:
            second = read_frames(response.iter_lines())
        validate_events(as_events(second))
        assert second[-2][1] == "thread.run.completed"
        assert {i.split(".")[0] for i, _, _ in first[:-1]} != {
            i.split(".")[0] for i, _, _ in second[:-1]
        }
        assert get_events(http_a, f"{path}/events") == second  # the current segment, from A
        assert get_events(http_a, f"{path}/events", params={"after": second[3][0]}) == second[4:]
        assert get_events(http_b, f"{path}/events", params={"after": first[1][0]}) == first[2:]
