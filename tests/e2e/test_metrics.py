"""`GET /metrics`: values move when runs, uploads and searches happen; the setting guards it;
every response carries a request id and echoes the client's."""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import BACKENDS, KEY_A, make_settings, sdk, serve_backend
from tests.fakes.upstream import Call, Fail, FakeUpstream, Turn
from tests.support.server import RunningServer, run_server

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str, **headers: str) -> Samples:
    response = httpx.get(f"{url}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def _wait(client: openai.OpenAI, store_id: str) -> None:
    deadline = time.monotonic() + 30
    while client.vector_stores.retrieve(store_id).file_counts.in_progress:
        assert time.monotonic() < deadline, "ingestion did not finish"
        time.sleep(0.1)


@pytest.fixture(params=BACKENDS)
def own_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    fake_upstream: FakeUpstream,
) -> Iterator[RunningServer]:
    """A server of this test's own: the session's shared one may still hold another test's
    run, and the in-flight gauge must come back to 0 here."""
    yield from serve_backend(request, tmp_path_factory, fake_upstream)


@pytest.fixture
def own_client(own_server: RunningServer) -> Iterator[openai.OpenAI]:
    with sdk(own_server) as client:
        yield client


def test_metrics_move_with_runs_uploads_and_searches(
    own_server: RunningServer, own_client: openai.OpenAI, fake: FakeUpstream
) -> None:
    server, client = own_server, own_client
    before = scrape(server.url)
    assistant = client.beta.assistants.create(model="gpt-4o-metrics")
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "hi"}])
    fake.script(Turn(text="one two three four five six", itl_s=0.01))
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    assert run.status == "completed"
    # A function call: the run waits for outputs, then completes.
    fake.script(Turn(tool_calls=[Call("lookup", '{"q": 1}')]), Turn(text="done"))
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id,
        assistant_id=assistant.id,
        tools=[{"type": "function", "function": {"name": "lookup"}}],
        poll_interval_ms=50,
    )
    assert run.status == "requires_action"
    call_id = run.required_action.submit_tool_outputs.tool_calls[0].id  # type: ignore[union-attr]
    run = client.beta.threads.runs.submit_tool_outputs_and_poll(
        run_id=run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call_id, "output": "x"}]
    )
    assert run.status == "completed"
    # The upstream fails twice (retried), then for good: the run fails.
    fake.script(Fail(503), Fail(503), Fail(503))
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    assert run.status == "failed"
    # Ingestion and a search.
    file = client.files.create(
        file=("tea.txt", io.BytesIO(b"Matcha is a powdered green tea.")), purpose="assistants"
    )
    store = client.vector_stores.create(file_ids=[file.id])
    _wait(client, store.id)
    assert client.vector_stores.search(store.id, query="matcha").data
    time.sleep(0.6)  # at least one event-loop lag sample

    after = scrape(server.url)
    # A run's task ends a moment after its terminal status is visible (on a busy machine, more
    # than a moment): the gauge must come back to 0, not be 0 at once.
    deadline = time.monotonic() + 10
    while value(after, "assistantd_runs_in_flight") and time.monotonic() < deadline:
        time.sleep(0.1)
        after = scrape(server.url)
    route = "/v1/threads/{thread_id}/runs"
    assert moved(before, after, "assistantd_http_requests_total", method="POST", route=route,
                 status="200") == 3  # fmt: skip
    assert moved(before, after, "assistantd_http_request_duration_seconds_count", method="POST",
                 route=route) == 3  # fmt: skip
    assert moved(before, after, "assistantd_runs_total", status="completed") >= 2
    assert moved(before, after, "assistantd_runs_total", status="requires_action") >= 1
    assert moved(before, after, "assistantd_runs_total", status="failed") >= 1
    model = "gpt-4o-metrics"
    assert moved(before, after, "assistantd_model_time_to_first_token_seconds_count",
                 model=model) == 3  # fmt: skip
    assert moved(before, after, "assistantd_model_tokens_per_second_count", model=model) >= 1
    assert moved(before, after, "assistantd_model_tokens_total", model=model,
                 kind="completion") >= 6  # fmt: skip
    assert moved(before, after, "assistantd_upstream_errors_total", kind="http_5xx") == 3
    assert moved(before, after, "assistantd_upstream_retries_total", kind="http_5xx") == 2
    assert moved(before, after, "assistantd_ingestion_files_total", outcome="completed") == 1
    assert moved(before, after, "assistantd_ingestion_bytes_total") == len(
        b"Matcha is a powdered green tea."
    )
    assert moved(before, after, "assistantd_search_duration_seconds_count", source="api") == 1
    assert value(after, "assistantd_event_loop_lag_seconds_count") >= 1
    assert value(after, "assistantd_runs_in_flight") == 0
    assert ("assistantd_ingestion_queue_depth", frozenset()) in after


def test_file_search_in_a_run_is_timed(
    server: RunningServer, client: openai.OpenAI, fake: FakeUpstream
) -> None:
    file = client.files.create(
        file=("tea.txt", io.BytesIO(b"Sencha is a steamed green tea.")), purpose="assistants"
    )
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_stores": [{"file_ids": [file.id]}]}},
    )
    store_id = assistant.tool_resources.file_search.vector_store_ids[0]  # type: ignore[union-attr]
    _wait(client, store_id)
    before = scrape(server.url)
    fake.script(
        Turn(tool_calls=[Call("file_search", json.dumps({"queries": ["sencha"]}))]),
        Turn(text="Sencha is steamed."),
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": "sencha?"}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    assert run.status == "completed"
    after = scrape(server.url)
    assert moved(before, after, "assistantd_search_duration_seconds_count", source="run") == 1


@pytest.fixture
def private_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RunningServer]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    settings = make_settings(tmp_path, url, **request.param)
    with run_server(settings) as running:
        yield running


@pytest.mark.parametrize("private_server", [{"metrics": "off"}], indirect=True)
def test_metrics_off_has_no_endpoint(private_server: RunningServer) -> None:
    response = httpx.get(f"{private_server.url}/metrics")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert re.fullmatch(r"req_[0-9a-f]{32}", response.headers["x-request-id"])


@pytest.mark.parametrize("private_server", [{"metrics": "token:s3cret"}], indirect=True)
def test_metrics_token_is_required(private_server: RunningServer) -> None:
    url = private_server.url
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {KEY_A}"}):
        response = httpx.get(f"{url}/metrics", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_api_key"
    assert "assistantd_http_requests_total" in str(
        scrape(url, Authorization="Bearer s3cret").keys()
    )


def test_every_response_carries_a_request_id(server: RunningServer) -> None:
    with httpx.Client(base_url=server.api, timeout=10) as raw:
        responses = [
            raw.get("/assistants", headers={"Authorization": f"Bearer {KEY_A}"}),  # 200
            raw.get("/assistants", headers={"Authorization": "Bearer nope"}),  # 401
            raw.get("/assistants/asst_missing", headers={"Authorization": f"Bearer {KEY_A}"}),
            raw.post("/assistants", headers={"Authorization": f"Bearer {KEY_A}"}, json={}),  # 400
            raw.get("/no/such/route"),  # 404
        ]
        assert [r.status_code for r in responses] == [200, 401, 404, 400, 404]
        ids = [r.headers["x-request-id"] for r in responses]
        assert all(re.fullmatch(r"req_[0-9a-f]{32}", i) for i in ids)
        assert len(set(ids)) == len(ids)
        assert all("x-client-request-id" not in r.headers for r in responses)
        echoed = raw.get(
            "/assistants",
            headers={"Authorization": f"Bearer {KEY_A}", "X-Client-Request-Id": "my-trace-42"},
        )
        assert echoed.headers["x-client-request-id"] == "my-trace-42"


def test_the_grafana_dashboard_queries_metrics_that_exist(server: RunningServer) -> None:
    dashboard = json.loads(
        (
            Path(__file__).resolve().parents[2] / "deploy/grafana/assistantd-dashboard.json"
        ).read_text()
    )
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {re.sub(r"_(bucket|count|sum|total)$", "", name)
            for expr in exprs for name in re.findall(r"assistantd_[a-z_]+", expr)}  # fmt: skip
    response = httpx.get(f"{server.url}/metrics")
    families = {f.name for f in text_string_to_metric_families(response.text)}
    assert used and used <= families, sorted(used - families)
    assert len(dashboard["panels"]) == len({p["id"] for p in dashboard["panels"]})
