"""Background responses: returned queued, polled, cancelled, streamed and resumed with
`starting_after`; what a stopped server left unfinished is failed on the next start."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import openai
import orjson

from tests.conftest import KEY_A, make_settings
from tests.fakes.upstream import FakeUpstream, Turn
from tests.support.server import RunningServer, run_server
from tests.support.sse import frames, validate_response_events


def _wait(
    client: openai.OpenAI, response_id: str, *statuses: str
) -> openai.types.responses.Response:
    deadline = time.monotonic() + 20
    while (response := client.responses.retrieve(response_id)).status not in statuses:
        assert time.monotonic() < deadline, response.status
        time.sleep(0.05)
    return response


def test_background_is_queued_then_completed(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Turn(text="done in the background", ttft_s=0.3))
    response = client.responses.create(model="gpt-4o", input="go", background=True)
    assert response.status == "queued" and response.background is True
    done = _wait(client, response.id, "completed")
    assert done.output_text == "done in the background" and done.background is True


def test_cancel_a_background_response(client: openai.OpenAI, fake: FakeUpstream) -> None:
    fake.script(Turn(text="never finished", stall_after=1))
    response = client.responses.create(model="gpt-4o", input="go", background=True)
    _wait(client, response.id, "in_progress")
    deadline = time.monotonic() + 10
    while not fake.stalled:  # `in_progress` is stored before the model call starts
        assert time.monotonic() < deadline
        time.sleep(0.02)
    cancelled = client.responses.cancel(response.id)
    assert cancelled.status == "cancelled"
    assert client.responses.retrieve(response.id).status == "cancelled"
    assert client.responses.cancel(response.id).status == "cancelled"  # again: as it is
    deadline = time.monotonic() + 5
    while fake.aborted == 0:  # the model call was abandoned, not left running
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _events(http: httpx.Client, path: str, **params: object) -> list[tuple[str, object]]:
    with http.stream("GET", path, params=params) as response:
        assert response.status_code == 200, response.read()
        return [(name, orjson.loads(data)) for name, data in frames(response.iter_lines())]


def test_stream_and_resume_with_starting_after(
    client: openai.OpenAI, http: httpx.Client, fake: FakeUpstream
) -> None:
    fake.script(Turn(text="one two three four", itl_s=0.05))
    stream = client.responses.create(model="gpt-4o", input="go", background=True, stream=True)
    first = [event.model_dump() for event in stream]
    response_id = first[0]["response"]["id"]
    assert first[0]["response"]["status"] == "queued"
    assert first[-1]["type"] == "response.completed"
    resumed = _events(http, f"/responses/{response_id}", stream="true", starting_after=3)
    assert [data["sequence_number"] for _, data in resumed] == list(range(4, len(first)))  # type: ignore[index]
    whole = _events(http, f"/responses/{response_id}", stream="true")
    validate_response_events(whole)  # type: ignore[arg-type]
    # The SDK resumes the same way.
    again = client.responses.retrieve(response_id, stream=True, starting_after=len(first) - 2)
    assert [event.type for event in again] == ["response.completed"]


def test_resuming_needs_a_background_response(http: httpx.Client) -> None:
    created = http.post("/responses", json={"model": "gpt-4o", "input": "x"}).json()
    response = http.get(f"/responses/{created['id']}", params={"stream": "true"})
    assert response.status_code == 400 and response.json()["error"]["param"] == "stream"


def test_a_stop_or_a_crash_fails_what_was_unfinished(tmp_path: Path, fake: FakeUpstream) -> None:
    settings = make_settings(
        tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}", upstream_base_url=fake.base_url
    )
    fake.script(Turn(text="never", stall_after=0))
    with run_server(settings) as server, _client(server) as client:
        response = client.responses.create(model="gpt-4o", input="go", background=True)
        _wait(client, response.id, "in_progress")
    with run_server(settings) as server, _client(server) as client:
        stopped = client.responses.retrieve(response.id)  # the stop failed it
    assert stopped.status == "failed" and stopped.error is not None
    assert stopped.error.message == "The server stopped before this response finished."
    # A crash leaves it in progress in the store: the next start fails it.
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        db.execute("UPDATE responses SET status = 'in_progress' WHERE id = ?", (response.id,))
        db.execute(
            "UPDATE responses SET body = json_set(body, '$.status', 'in_progress', "
            "'$.error', json('null')) WHERE id = ?",
            (response.id,),
        )
    with run_server(settings) as server, _client(server) as client:
        crashed = client.responses.retrieve(response.id)
    assert crashed.status == "failed" and crashed.error is not None
    assert crashed.error.message == "The server stopped before this response finished."


def _client(server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.api, api_key=KEY_A, max_retries=0)


def test_background_must_be_stored(http: httpx.Client) -> None:
    response = http.post(
        "/responses", json={"model": "gpt-4o", "input": "x", "background": True, "store": False}
    )
    assert response.status_code == 400 and response.json()["error"]["param"] == "background"
