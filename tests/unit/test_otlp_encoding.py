"""The OTLP exporter's own encoder writes what the SDK's encoder writes: the same
`ExportTraceServiceRequest`, for request spans and for everything it hands back to the SDK
(events, links, arrays, dropped values); the exporter posts it with the `OTEL_*` settings."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as sdk_encode
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, Status, StatusCode
from opentelemetry.trace.span import TraceFlags, TraceState

from assistantd.observability.otlp import WireSpanExporter, encode_spans
from assistantd.observability.tracing import make_tracing
from tests.conftest import make_settings
from tests.support.otlp_sink import Received, otlp_http_sink

ROUTE = "/v1/threads/{thread_id}/messages"


def _app_spans(tmp_path: Path) -> list[ReadableSpan]:
    """Spans as the app makes them: request spans (one failed), a run and a model call under
    a request, an error recorded as an event."""
    exporter = InMemorySpanExporter()
    tracing = make_tracing(make_settings(tmp_path, "sqlite+aiosqlite://"), exporter)
    for i, status in enumerate((200, 201, 404, 503)):
        request = tracing.start_request("POST", f"req_{i:032x}", "client-é" if i else None)
        assert request is not None
        tracing.end_request(request, "POST", ROUTE, status)
    request = tracing.start_request("POST", "req_run", None)
    assert request is not None
    with tracing.span("run", {"assistantd.run_id": "run_1", "assistantd.thread_id": None}):
        with tracing.span("chat gpt-4o", {"gen_ai.request.model": "gpt-4o"}) as call:
            tracing.model_call_done(call, 12, 34, "stop", "hi")
        with pytest.raises(ValueError), tracing.span("tool function"):
            raise ValueError("boom")
    tracing.end_request(request, "POST", "/v1/threads/runs", 200)
    tracing.shutdown()
    return list(exporter.get_finished_spans())


def _odd_spans() -> list[ReadableSpan]:
    """What the app does not make but an exporter must carry: every attribute type, values
    it cannot encode, long strings, links, a remote parent with a trace state, a status with
    a description, dropped attributes, another resource and scope with schema URLs."""
    exporter = InMemorySpanExporter()
    resource = Resource({"service.name": "other", "k": 3}, "https://opentelemetry.io/s/1")
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("other", "9.9", schema_url="https://opentelemetry.io/s/2")
    remote = SpanContext(
        0x1234,
        0x5678,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=TraceState([("vendor", "v1"), ("other", "x")]),
    )
    parent = trace.set_span_in_context(NonRecordingSpan(remote))
    attributes = {
        "s": "x" * 200,
        "long": "y" * 20_000,
        "unicode": "日本語 ✓",
        "empty": "",
        "t": True,
        "f": False,
        "zero": 0,
        "neg": -5,
        "max": (1 << 63) - 1,
        "min": -(1 << 63),
        "huge": 1 << 64,  # beyond int64: the SDK's encoder drops it (and logs)
        "float": 2.5,
        "nan": float("nan"),
        "bytes": b"\x00\xff",
        "strings": ("a", "b"),
        "ints": (1, 2, 3),
        "empty_tuple": (),
    }
    with tracer.start_as_current_span(
        "remote child ✓", context=parent, attributes=attributes
    ) as span:
        span.set_status(Status(StatusCode.ERROR, "it broke"))
    with tracer.start_as_current_span("event", context=parent) as span:
        span.add_event("an event", {"n": 1})
    with tracer.start_as_current_span("linked", links=[Link(remote, {"why": "because"})]):
        pass
    with tracer.start_as_current_span("ok", kind=trace.SpanKind.CLIENT) as span:
        span.set_status(Status(StatusCode.OK))
    limited = TracerProvider(resource=resource, span_limits=_limits())
    limited.add_span_processor(SimpleSpanProcessor(exporter))
    with limited.get_tracer("limited").start_as_current_span("full", attributes={"a": 1, "b": 2}):
        pass
    return list(exporter.get_finished_spans())


def _limits() -> object:
    from opentelemetry.sdk.trace import SpanLimits

    return SpanLimits(max_span_attributes=1)


def _same(spans: list[ReadableSpan]) -> ExportTraceServiceRequest:
    ours = ExportTraceServiceRequest.FromString(encode_spans(spans))
    assert ours == sdk_encode(spans)
    return ours


def test_the_apps_spans_encode_as_the_sdk_encodes_them(tmp_path: Path) -> None:
    spans = _app_spans(tmp_path)
    assert len(spans) == 8
    ours = _same(spans)
    (resource_spans,) = ours.resource_spans
    (scope_spans,) = resource_spans.scope_spans
    names = [span.name for span in scope_spans.spans]
    assert f"POST {ROUTE}" in names and "chat gpt-4o" in names


def test_odd_spans_encode_as_the_sdk_encodes_them() -> None:
    spans = _odd_spans()
    assert {span.name for span in spans} == {"remote child ✓", "event", "linked", "ok", "full"}
    ours = _same(spans)
    assert len(ours.resource_spans) == 1  # one resource, two scopes
    assert len(ours.resource_spans[0].scope_spans) == 2


def test_spans_of_two_resources_and_one_at_a_time_encode_as_the_sdk_does(tmp_path: Path) -> None:
    spans = _app_spans(tmp_path) + _odd_spans()
    assert len(_same(spans).resource_spans) == 2
    for span in spans:
        _same([span])
    assert encode_spans([]) == sdk_encode([]).SerializePartialToString() == b""


@pytest.fixture
def sink() -> Iterator[tuple[str, Received]]:
    with otlp_http_sink() as endpoint:
        yield endpoint


def test_the_exporter_posts_the_encoding_with_the_otel_settings(
    tmp_path: Path,
    sink: tuple[str, Received],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, received = sink
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-tenant=acme")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip")
    exporter = WireSpanExporter(endpoint=url)
    spans = _app_spans(tmp_path)
    assert exporter.export(spans) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert exporter.export(spans) is SpanExportResult.FAILURE  # shut down
    ((headers, body),) = received
    assert headers["content-type"] == "application/x-protobuf"
    assert headers["x-tenant"] == "acme"
    assert headers["content-encoding"] == "gzip"
    assert ExportTraceServiceRequest.FromString(gzip.decompress(body)) == sdk_encode(spans)


def test_a_batch_over_the_size_limit_is_dropped_unsent(
    tmp_path: Path, sink: tuple[str, Received]
) -> None:
    url, received = sink
    exporter = WireSpanExporter(endpoint=url, max_request_size=100)
    assert exporter.export(_app_spans(tmp_path)) is SpanExportResult.FAILURE
    assert received == []
    exporter.shutdown()


def test_the_exporter_goes_through_the_environments_proxy_on_every_export(
    tmp_path: Path,
    sink: tuple[str, Received],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The session reads the proxy settings once; they still apply to each post."""
    url, received = sink
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", url.removesuffix("/v1/traces"))
    exporter = WireSpanExporter(endpoint="http://collector.invalid:4318/v1/traces")
    spans = _app_spans(tmp_path)
    assert exporter.export(spans[:2]) is SpanExportResult.SUCCESS
    assert exporter.export(spans[2:]) is SpanExportResult.SUCCESS
    exporter.shutdown()
    assert [headers[":path"] for headers, _ in received] == [
        "http://collector.invalid:4318/v1/traces"
    ] * 2
    assert [ExportTraceServiceRequest.FromString(body) for _, body in received] == [
        sdk_encode(spans[:2]),
        sdk_encode(spans[2:]),
    ]
