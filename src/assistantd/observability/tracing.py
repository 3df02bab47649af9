"""OpenTelemetry traces (opentelemetry-sdk), off unless asked for.

On when `ASSISTANTD_TRACING=true` or an OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT` or
`ASSISTANTD_OTLP_ENDPOINT`); spans are then batched to `<endpoint>/v1/traces` over OTLP/HTTP.
Each app has its own tracer provider (nothing global is set), so tests can hand in an
in-memory exporter. Spans: one per HTTP request, run, model call, tool call and search; the
run's span is a child of the request that started it (the task copies the context). They
carry ids, models, statuses and sizes; message text only with `ASSISTANTD_TRACE_CONTENT`.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import Iterator
from contextvars import Token
from dataclasses import dataclass
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import Span, Status, StatusCode

from assistantd import __version__
from assistantd.settings import Settings


class _Resource(Resource):
    """The SDK's `Resource` with its hash worked out once. The OTLP encoder groups every
    exported span by its resource, and `Resource.__hash__` JSON-encodes all the attributes on
    each call: profiled, a fifth to a third of the export's CPU per span. A resource never
    changes once made, so its hash can be kept."""

    @functools.cached_property
    def _hash(self) -> int:
        return super().__hash__()

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other)


@dataclass(slots=True)
class RequestSpan:
    span: Span
    token: Token[Context]  # to detach when the request ends


class Tracing:
    """The app's tracer; `span()` is a no-op context manager when tracing is off."""

    def __init__(self, provider: TracerProvider | None, *, content: bool = False) -> None:
        self.provider = provider
        self.enabled = provider is not None
        self.content = content
        self._tracer = provider.get_tracer("assistantd", __version__) if provider else None

    @contextlib.contextmanager
    def span(
        self, name: str, attributes: dict[str, Any] | None = None, *, kind: Any = None
    ) -> Iterator[Span | None]:
        if self._tracer is None:
            yield None
            return
        with self._tracer.start_as_current_span(
            name,
            kind=kind or trace.SpanKind.INTERNAL,
            attributes=_clean(attributes),
            record_exception=True,
            set_status_on_exception=True,
        ) as span:
            yield span

    def start_request(
        self, method: str, request_id: str, client_id: str | None
    ) -> RequestSpan | None:
        """The server span of one HTTP request, made current (so a run it starts is its
        child); None when tracing is off. Cheaper than `span()`: one span, no context-manager
        layers, and the attributes known only at the end set in one call by `end_request`."""
        if self._tracer is None:
            return None
        attributes = {"http.request.method": method, "assistantd.request_id": request_id}
        if client_id is not None:
            attributes["assistantd.client_request_id"] = client_id
        span = self._tracer.start_span(
            method,
            kind=trace.SpanKind.SERVER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        )
        return RequestSpan(span, otel_context.attach(trace.set_span_in_context(span)))

    def end_request(self, request: RequestSpan, method: str, route: str, status: int) -> None:
        span = request.span
        try:
            span.update_name(f"{method} {route}")
            span.set_attributes({"http.route": route, "http.response.status_code": status})
            if status >= 500:
                span.set_status(Status(StatusCode.ERROR))
        finally:
            otel_context.detach(request.token)
            span.end()

    def model_call_done(
        self, span: Span | None, prompt: int, completion: int, finish: str | None, text: str
    ) -> None:
        if span is None:
            return
        span.set_attribute("gen_ai.usage.input_tokens", prompt)
        span.set_attribute("gen_ai.usage.output_tokens", completion)
        span.set_attribute("gen_ai.response.finish_reasons", [finish or ""])
        if self.content:
            span.set_attribute("gen_ai.completion", clip(text))

    def shutdown(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()


def make_tracing(settings: Settings, exporter: SpanExporter | None = None) -> Tracing:
    """Tracing for `settings`; an explicit `exporter` (tests) turns it on, exported at once."""
    if exporter is None and not (settings.tracing or settings.otlp_endpoint):
        return Tracing(None)
    resource = Resource.create({"service.name": "assistantd", "service.version": __version__})
    provider = TracerProvider(resource=_Resource(resource.attributes, resource.schema_url))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        base = (settings.otlp_endpoint or "http://127.0.0.1:4318").rstrip("/")
        endpoint = base if base.endswith("/v1/traces") else f"{base}/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return Tracing(provider, content=settings.trace_content)


def run_attributes(run: Any) -> dict[str, Any]:
    """The ids a run's spans carry."""
    return {
        "assistantd.run_id": run.id,
        "assistantd.thread_id": run.thread_id,
        "assistantd.assistant_id": run.assistant_id,
        "assistantd.model": run.model,
    }


def clip(value: Any, limit: int = 16_000) -> str:
    """Message content for a span (only with `ASSISTANTD_TRACE_CONTENT`), bounded."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text[:limit]


def set_attributes(span: Span | None, **attributes: Any) -> None:
    if span is not None:
        span.set_attributes(_clean(attributes))


def mark_error(span: Span | None, description: str) -> None:
    if span is not None:
        span.set_status(Status(StatusCode.ERROR, description))


def _clean(attributes: dict[str, Any] | None) -> dict[str, Any]:
    """OpenTelemetry attributes may not be None."""
    return {k: v for k, v in (attributes or {}).items() if v is not None}
