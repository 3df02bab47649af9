"""The request span, made lazily: at the request's end in one call, or as soon as a span starts
under it (a run, a search), in a task too; always one span per request, the parent of those."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from assistantd.observability.tracing import Tracing, make_tracing
from tests.conftest import make_settings

ROUTE = "/v1/threads/{thread_id}/runs"


@pytest.fixture
def traced(tmp_path: Path) -> Iterator[tuple[Tracing, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    tracing = make_tracing(make_settings(tmp_path, "sqlite+aiosqlite://"), exporter)
    yield tracing, exporter
    tracing.shutdown()


def _named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


def test_a_request_without_children_is_one_span_with_everything(
    traced: tuple[Tracing, InMemorySpanExporter],
) -> None:
    tracing, exporter = traced
    before = time.time_ns()
    request = tracing.start_request("GET", "req_1", "client-7")
    assert request is not None
    assert exporter.get_finished_spans() == ()  # nothing made before the end
    time.sleep(0.01)
    tracing.end_request(request, "GET", "/v1/assistants/{assistant_id}", 200)
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /v1/assistants/{assistant_id}"
    assert span.kind is SpanKind.SERVER
    assert dict(span.attributes or {}) == {
        "http.request.method": "GET",
        "assistantd.request_id": "req_1",
        "assistantd.client_request_id": "client-7",
        "http.route": "/v1/assistants/{assistant_id}",
        "http.response.status_code": 200,
    }
    assert span.parent is None
    # It starts when the request did, not when it was made.
    assert span.start_time is not None and span.end_time is not None
    assert before <= span.start_time <= span.end_time - 10_000_000
    assert span.status.status_code is StatusCode.UNSET


def test_a_span_during_the_request_is_its_child(
    traced: tuple[Tracing, InMemorySpanExporter],
) -> None:
    tracing, exporter = traced
    request = tracing.start_request("POST", "req_2", None)
    assert request is not None
    time.sleep(0.01)
    with tracing.span("search", {"assistantd.vector_store_id": "vs_1"}), tracing.span("inner"):
        pass
    tracing.end_request(request, "POST", ROUTE, 200)
    (span,) = _named(exporter, f"POST {ROUTE}")
    (search,) = _named(exporter, "search")
    (inner,) = _named(exporter, "inner")
    assert len(exporter.get_finished_spans()) == 3
    assert search.parent is not None and search.parent.span_id == span.context.span_id
    assert inner.parent is not None and inner.parent.span_id == search.context.span_id
    assert {search.context.trace_id, inner.context.trace_id} == {span.context.trace_id}
    assert span.start_time is not None and search.start_time is not None
    assert span.start_time <= search.start_time - 10_000_000
    assert dict(span.attributes or {})["http.route"] == ROUTE
    assert dict(span.attributes or {})["assistantd.request_id"] == "req_2"


def test_a_task_started_by_the_request_is_its_child_before_or_after_its_end(
    traced: tuple[Tracing, InMemorySpanExporter],
) -> None:
    """A run's task copies the request's context; its span may start while the request is
    still being served (streaming) or after the response went (a run created and polled)."""
    tracing, exporter = traced

    async def serve(run_after_end: bool) -> None:
        request = tracing.start_request("POST", "req_3", None)
        assert request is not None
        go = asyncio.Event()

        async def run() -> None:
            await go.wait()
            with tracing.span("run"):
                await asyncio.sleep(0)

        task = asyncio.create_task(run())  # copies the context, as the executor's does
        if not run_after_end:
            go.set()
            await asyncio.sleep(0.01)
        tracing.end_request(request, "POST", ROUTE, 200)
        go.set()
        await task

    for run_after_end in (False, True):
        exporter.clear()
        asyncio.run(serve(run_after_end))
        (span,) = _named(exporter, f"POST {ROUTE}")
        (run_span,) = _named(exporter, "run")
        assert len(exporter.get_finished_spans()) == 2, run_after_end
        assert run_span.parent is not None
        assert run_span.parent.span_id == span.context.span_id, run_after_end
        assert run_span.context.trace_id == span.context.trace_id


def test_after_the_request_spans_are_roots_again(
    traced: tuple[Tracing, InMemorySpanExporter],
) -> None:
    tracing, exporter = traced
    request = tracing.start_request("GET", "req_4", None)
    assert request is not None
    tracing.end_request(request, "GET", "/v1/assistants", 200)
    with tracing.span("later"):
        pass
    (later,) = _named(exporter, "later")
    assert later.parent is None


def test_a_server_error_marks_the_span_and_keeps_the_exception(
    traced: tuple[Tracing, InMemorySpanExporter],
) -> None:
    tracing, exporter = traced
    request = tracing.start_request("GET", "req_5", None)
    assert request is not None
    tracing.request_error(request, RuntimeError("boom"))
    tracing.end_request(request, "GET", "/v1/assistants", 500)
    (span,) = exporter.get_finished_spans()
    assert span.name == "GET /v1/assistants"
    assert span.status.status_code is StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]
    assert dict(span.events[0].attributes or {})["exception.message"] == "boom"
    assert dict(span.attributes or {})["http.response.status_code"] == 500


def test_tracing_off_makes_nothing(tmp_path: Path) -> None:
    tracing = Tracing(None)
    assert tracing.start_request("GET", "req_6", None) is None
    with tracing.span("x") as span:
        assert span is None
