"""Traces (checked with the SDK's in-memory exporter) and JSON logs with request ids."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.conftest import KEY_A, make_settings
from tests.fakes.upstream import Call, FakeUpstream, Turn
from tests.support.process import spawn_server
from tests.support.server import RunningServer, run_server

SECRET_QUESTION = "What is the colour of the secret teapot?"


@pytest.fixture
def traced(
    tmp_path: Path, fake: FakeUpstream, request: pytest.FixtureRequest
) -> Iterator[tuple[RunningServer, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    settings = make_settings(
        tmp_path,
        f"sqlite+aiosqlite:///{tmp_path / 'test.db'}",
        upstream_base_url=fake.base_url,
        trace_content=getattr(request, "param", False),
    )
    with run_server(settings, span_exporter=exporter) as running:
        yield running, exporter


def _client(server: RunningServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.api, api_key=KEY_A, max_retries=0)


def _file_search_run(server: RunningServer, fake: FakeUpstream) -> tuple[Any, Any]:
    client = _client(server)
    file = client.files.create(
        file=("tea.txt", io.BytesIO(b"The secret teapot is blue.")), purpose="assistants"
    )
    assistant = client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "file_search"}],
        tool_resources={"file_search": {"vector_stores": [{"file_ids": [file.id]}]}},
    )
    store_id = assistant.tool_resources.file_search.vector_store_ids[0]  # type: ignore[union-attr]
    deadline = time.monotonic() + 30
    while client.vector_stores.retrieve(store_id).file_counts.in_progress:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    fake.script(
        Turn(tool_calls=[Call("file_search", json.dumps({"queries": ["teapot colour"]}))]),
        Turn(text="It is blue."),
    )
    thread = client.beta.threads.create(messages=[{"role": "user", "content": SECRET_QUESTION}])
    run = client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=50
    )
    assert run.status == "completed"
    return run, assistant


def _wait_for(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    deadline = time.monotonic() + 10
    while not any(s.name == name for s in exporter.get_finished_spans()):
        assert time.monotonic() < deadline, f"no span {name}"
        time.sleep(0.05)
    return list(exporter.get_finished_spans())


def test_spans_for_request_run_model_call_tool_and_search(
    traced: tuple[RunningServer, InMemorySpanExporter], fake: FakeUpstream
) -> None:
    server, exporter = traced
    run, assistant = _file_search_run(server, fake)
    spans = _wait_for(exporter, "run")
    by_id = {s.context.span_id: s for s in spans}
    (run_span,) = [s for s in spans if s.name == "run"]
    attributes = dict(run_span.attributes or {})
    assert attributes["assistantd.run_id"] == run.id
    assert attributes["assistantd.thread_id"] == run.thread_id
    assert attributes["assistantd.assistant_id"] == assistant.id
    assert attributes["assistantd.run.status"] == "completed"
    # The run is a child of the request that created it, in the same trace.
    assert run_span.parent is not None
    request_span = by_id[run_span.parent.span_id]
    assert request_span.name == "POST /v1/threads/{thread_id}/runs"
    assert request_span.attributes["http.response.status_code"] == 200  # type: ignore[index]
    assert request_span.attributes["assistantd.request_id"].startswith("req_")  # type: ignore[index,union-attr]
    # Two model calls and one tool call under the run; the search under the tool call.
    children = [s for s in spans if s.parent and s.parent.span_id == run_span.context.span_id]
    assert sorted(s.name for s in children) == ["chat gpt-4o", "chat gpt-4o", "tool file_search"]
    assert {s.context.trace_id for s in children} == {run_span.context.trace_id}
    chat = next(s for s in children if s.name == "chat gpt-4o")
    assert chat.attributes["gen_ai.request.model"] == "gpt-4o"  # type: ignore[index]
    assert chat.attributes["gen_ai.usage.output_tokens"] >= 1  # type: ignore[index,operator]
    (tool,) = [s for s in children if s.name == "tool file_search"]
    searches = [s for s in spans if s.parent and s.parent.span_id == tool.context.span_id]
    assert [s.name for s in searches] == ["search"]
    # No message content unless asked.
    for span in spans:
        for value in (span.attributes or {}).values():
            assert "teapot" not in str(value)


@pytest.mark.parametrize("traced", [True], indirect=True)
def test_content_in_spans_only_when_asked(
    traced: tuple[RunningServer, InMemorySpanExporter], fake: FakeUpstream
) -> None:
    server, exporter = traced
    _file_search_run(server, fake)
    spans = _wait_for(exporter, "run")
    chats = [s for s in spans if s.name == "chat gpt-4o"]
    assert any(SECRET_QUESTION in str(s.attributes.get("gen_ai.prompt")) for s in chats)  # type: ignore[union-attr]
    assert any(s.attributes.get("gen_ai.completion") == "It is blue." for s in chats)  # type: ignore[union-attr]


def test_tracing_is_off_by_default(tmp_path: Path) -> None:
    from assistantd.observability.tracing import make_tracing

    settings = make_settings(tmp_path, "sqlite+aiosqlite://")
    assert not make_tracing(settings).enabled
    on = make_tracing(make_settings(tmp_path, "sqlite+aiosqlite://", otlp_endpoint="http://x:4318"))
    assert on.enabled
    on.shutdown()


def test_exported_spans_share_one_resource(tmp_path: Path) -> None:
    """The OTLP encoder groups spans by resource: every span of the app lands in one group,
    named as the service (the resource's hash is kept, so it must stay equal to itself)."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    from assistantd.observability.tracing import make_tracing

    exporter = InMemorySpanExporter()
    tracing = make_tracing(make_settings(tmp_path, "sqlite+aiosqlite://"), exporter)
    for i in range(3):
        request = tracing.start_request("GET", f"req_{i}", None)
        assert request is not None
        tracing.end_request(request, "GET", "/v1/assistants", 200)
    encoded = encode_spans(exporter.get_finished_spans())
    [group] = encoded.resource_spans
    names = {a.key: a.value.string_value for a in group.resource.attributes}
    assert names["service.name"] == "assistantd"
    assert [s.name for s in group.scope_spans[0].spans] == ["GET /v1/assistants"] * 3
    tracing.shutdown()


def test_json_logs_carry_request_ids(tmp_path: Path, fake: FakeUpstream) -> None:
    log_path = tmp_path / "server.log"
    env = {
        "ASSISTANTD_DATA_DIR": str(tmp_path),
        "ASSISTANTD_API_KEYS": f"{KEY_A}=alpha",
        "ASSISTANTD_UPSTREAM_BASE_URL": fake.base_url,
        "ASSISTANTD_LOG_FORMAT": "json",
    }
    fake.script(Turn(text="logged"))
    with log_path.open("wb") as sink, spawn_server(env, log_level="info", stderr=sink) as (url, _):
        headers = {"Authorization": f"Bearer {KEY_A}", "X-Client-Request-Id": "client-7"}
        with httpx.Client(base_url=f"{url}/v1", headers=headers, timeout=30) as http:
            assistant = http.post("/assistants", json={"model": "gpt-4o"}).json()
            thread = http.post("/threads", json={}).json()
            created = http.post(
                f"/threads/{thread['id']}/runs", json={"assistant_id": assistant["id"]}
            )
            run_request_id = created.headers["x-request-id"]
            assert created.headers["x-client-request-id"] == "client-7"
            run_id = created.json()["id"]
            deadline = time.monotonic() + 20
            while (
                http.get(f"/threads/{thread['id']}/runs/{run_id}").json()["status"] != "completed"
            ):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            time.sleep(0.2)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    assert lines, "the server logged nothing"
    assert all("request_id" in line and "level" in line and "message" in line for line in lines)
    access = [line for line in lines if line["logger"] == "assistantd.access"]
    assert any(
        line["request_id"] == run_request_id
        and line["client_request_id"] == "client-7"
        and line["status"] == 200
        and line["route"] == "/v1/threads/{thread_id}/runs"
        for line in access
    )
    # The run's own line carries the id of the request that started it.
    finished = [line for line in lines if line.get("run_id") == run_id]
    assert finished and finished[-1]["request_id"] == run_request_id
    assert finished[-1]["status"] == "completed"
