"""OpenTelemetry traces (opentelemetry-sdk), off unless asked for.

On when `ASSISTANTD_TRACING=true` or an OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT` or
`ASSISTANTD_OTLP_ENDPOINT`); spans are then batched to `<endpoint>/v1/traces` over OTLP/HTTP.
Each app has its own tracer provider (nothing global is set), so tests can hand in an
in-memory exporter. Spans: one per HTTP request, run, model call, tool call and search; the
run's span is a child of the request that started it (the task copies the context). They
carry ids, models, statuses and sizes; message text only with `ASSISTANTD_TRACE_CONTENT`.

A request's span is made when the request ends, with its start time, final name and all its
attributes in one `start_span` call, unless a span starts under it before then (a run, a
search), which makes it at once. Most requests (CRUD) have no child: profiled, starting the
span at the request's start, making it current and then renaming it and setting the route and
status was a fifth of a request span's cost (two attribute validations, a lock, a context
attach/detach); the request's own context variable is a tenth of one attach.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any

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
    """One HTTP request's server span, made lazily (see the module's text)."""

    method: str
    attributes: dict[str, Any]
    start_time: int  # ns since the epoch, the SDK's clock
    token: Token[RequestSpan | None] | None = None  # to reset when the request ends
    span: Span | None = field(default=None)  # made once a child needs it, or at the end


# The request being served (copied into the tasks it starts, such as its run's).
_request: ContextVar[RequestSpan | None] = ContextVar("assistantd_request_span", default=None)


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
            context=self._parent(),
            kind=kind or trace.SpanKind.INTERNAL,
            attributes=_clean(attributes),
            record_exception=True,
            set_status_on_exception=True,
        ) as span:
            yield span

    def start_request(
        self, method: str, request_id: str, client_id: str | None
    ) -> RequestSpan | None:
        """The server span of one HTTP request, the parent of the spans started under it (a
        run it starts); None when tracing is off. Nothing is made in the SDK yet."""
        if self._tracer is None:
            return None
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "assistantd.request_id": request_id,
        }
        if client_id is not None:
            attributes["assistantd.client_request_id"] = client_id
        request = RequestSpan(method, attributes, time.time_ns())
        request.token = _request.set(request)
        return request

    def request_error(self, request: RequestSpan, error: BaseException) -> None:
        """An error the handlers did not answer, recorded on the request's span."""
        self._made(request).record_exception(error)

    def end_request(self, request: RequestSpan, method: str, route: str, status: int) -> None:
        if request.token is not None:
            _request.reset(request.token)
            request.token = None
        name = f"{method} {route}"
        final: dict[str, Any] = {"http.route": route, "http.response.status_code": status}
        span = request.span
        if span is None:  # nothing started under it: one call, all attributes at once
            span = request.span = self._start(request, name, {**request.attributes, **final})
        else:
            span.update_name(name)
            span.set_attributes(final)
        if status >= 500:
            span.set_status(Status(StatusCode.ERROR))
        span.end()

    def _parent(self) -> Context | None:
        """The context a new span starts in: the current one (None) when a span is current,
        else the request being served, made now if it was not yet."""
        if trace.get_current_span().get_span_context().is_valid:
            return None
        request = _request.get()
        if request is None:
            return None
        return trace.set_span_in_context(self._made(request))

    def _made(self, request: RequestSpan) -> Span:
        if request.span is None:
            request.span = self._start(request, request.method, request.attributes)
        return request.span

    def _start(self, request: RequestSpan, name: str, attributes: dict[str, Any]) -> Span:
        assert self._tracer is not None
        return self._tracer.start_span(
            name,
            kind=trace.SpanKind.SERVER,
            attributes=attributes,
            start_time=request.start_time,
            record_exception=False,
            set_status_on_exception=False,
        )

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
        from assistantd.observability.otlp import WireSpanExporter

        base = (settings.otlp_endpoint or "http://127.0.0.1:4318").rstrip("/")
        endpoint = base if base.endswith("/v1/traces") else f"{base}/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(WireSpanExporter(endpoint=endpoint)))
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
