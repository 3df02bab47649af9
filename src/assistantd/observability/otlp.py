"""The OTLP/HTTP span exporter with a cheaper encoder: the protobuf wire bytes written directly.

The SDK's exporter builds a protobuf message per span, per attribute (a `KeyValue` holding an
`AnyValue`) and per status, then serializes the tree. That runs in the batch processor's
thread, but in this process and under its GIL: profiled under the observability bench, ~30-35
µs per request span, as much as making the span. Writing the same bytes with a few
concatenations is a third of that. The output is the same `ExportTraceServiceRequest` (checked
against the SDK's encoder in tests/unit/test_otlp_encoding.py); what this does not write
itself (a span's events and links, dropped counts, values other than str, bool, int, float and
bytes, the resource and the scope) it takes from the SDK's encoder, whose bytes it embeds.

Everything else is the SDK exporter's: the endpoint, headers, compression, timeout and
certificates from the `OTEL_EXPORTER_OTLP_*` settings, its retries, size limit and metrics.
Its HTTP session (requests) reads the proxy and CA bundle settings from the environment once,
at the first export, instead of on every post (a fifth of a post's CPU, profiled).
"""

from __future__ import annotations

import logging
import os
import struct
from collections.abc import Sequence
from typing import Any

import requests
from opentelemetry.exporter.otlp.proto.common._internal import (
    _encode_attributes,
    _encode_instrumentation_scope,
    _encode_resource,
)
from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import _encode_span
from opentelemetry.exporter.otlp.proto.http._common import (
    RequestPayloadTooLargeError,
    _is_request_too_large,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PB2Span
from opentelemetry.proto.trace.v1.trace_pb2 import SpanFlags
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.semconv.attributes.http_attributes import HTTP_RESPONSE_STATUS_CODE
from opentelemetry.trace import SpanKind

_logger = logging.getLogger("opentelemetry.exporter.otlp.proto.http.trace_exporter")

_INT64 = range(-(1 << 63), 1 << 63)
_U64 = (1 << 64) - 1
_fixed64 = struct.Struct("<Q").pack
_double = struct.Struct("<d").pack
_flags = struct.Struct("<I").pack


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL = tuple(_varint(i) for i in range(1 << 14))  # lengths of strings and most messages


def _length(value: int) -> bytes:
    return _SMALL[value] if value < 1 << 14 else _varint(value)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: its tag byte(s), the length, the payload."""
    return tag + _length(len(payload)) + payload


# Tags: (field number << 3) | wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
_KINDS = {
    kind: b"\x30" + _varint(PB2Span.SpanKind.Value(f"SPAN_KIND_{kind.name}")) for kind in SpanKind
}
_LOCAL = b"\x85\x01" + _flags(SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK)  # field 16
_REMOTE = b"\x85\x01" + _flags(
    SpanFlags.SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK | SpanFlags.SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK
)


class _Encoder:
    """Spans to an `ExportTraceServiceRequest`'s bytes; keeps the encoded keys, resource and
    scope (a process has a handful of each)."""

    def __init__(self) -> None:
        self._keys: dict[str, bytes] = {}
        # Encoded attributes by (key, type, value): most repeat from span to span (a method,
        # a route, a status); short ones only, emptied when full, so unique values (ids)
        # cannot grow it.
        self._pairs: dict[tuple[str, type, Any], bytes] = {}
        self._resources: dict[Resource, bytes] = {}
        self._scopes: dict[InstrumentationScope | None, bytes] = {}

    def encode(self, spans: Sequence[ReadableSpan]) -> bytes:
        # Grouped as the SDK's encoder does: by resource, then by instrumentation scope.
        groups: dict[Resource, dict[InstrumentationScope | None, list[bytes]]] = {}
        for span in spans:
            scope = span.instrumentation_scope or None
            groups.setdefault(span.resource, {}).setdefault(scope, []).append(self._span(span))
        out = []
        for resource, scopes in groups.items():
            body = [_field(b"\x0a", self._resource(resource))]  # ResourceSpans.resource
            for scope, encoded in scopes.items():
                scope_spans = [_field(b"\x0a", self._scope(scope))]  # ScopeSpans.scope
                scope_spans.extend(_field(b"\x12", span) for span in encoded)  # .spans
                if scope is not None and scope.schema_url:
                    scope_spans.append(_field(b"\x1a", scope.schema_url.encode()))
                body.append(_field(b"\x12", b"".join(scope_spans)))  # .scope_spans
            if resource.schema_url:
                body.append(_field(b"\x1a", resource.schema_url.encode()))
            out.append(_field(b"\x0a", b"".join(body)))  # ExportTraceServiceRequest.resource_spans
        return b"".join(out)

    def _resource(self, resource: Resource) -> bytes:
        encoded = self._resources.get(resource)
        if encoded is None:
            encoded = _encode_resource(resource).SerializePartialToString()
            if len(self._resources) < 16:
                self._resources[resource] = encoded
        return encoded

    def _scope(self, scope: InstrumentationScope | None) -> bytes:
        encoded = self._scopes.get(scope)
        if encoded is None:
            encoded = _encode_instrumentation_scope(scope).SerializePartialToString()  # type: ignore[arg-type]
            if len(self._scopes) < 64:
                self._scopes[scope] = encoded
        return encoded

    def _span(self, span: ReadableSpan) -> bytes:
        context = span.context
        start, end = span.start_time, span.end_time
        if (
            context is None
            or start is None
            or end is None
            or span.events
            or span.links
            or span.dropped_attributes
            or span.dropped_events
            or span.dropped_links
        ):
            whole: bytes = _encode_span(span).SerializePartialToString()  # the SDK's, as it is
            return whole
        parts = [
            b"\x0a\x10",  # trace_id, 16 bytes
            context.trace_id.to_bytes(16, "big"),
            b"\x12\x08",  # span_id, 8 bytes
            context.span_id.to_bytes(8, "big"),
        ]
        if context.trace_state:
            state = ",".join(f"{key}={value}" for key, value in context.trace_state.items())
            parts.append(_field(b"\x1a", state.encode()))
        parent = span.parent
        if parent:
            parts.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
        parts.append(_field(b"\x2a", span.name.encode()))
        parts.append(_KINDS[span.kind])
        parts.append(b"\x39" + _fixed64(start) + b"\x41" + _fixed64(end))
        for key, value in (span.attributes or {}).items():
            parts.append(self._attribute(key, value))
        status = span.status  # always present, as in the SDK's encoding
        code = status.status_code.value
        message = status.description
        parts.append(
            _field(
                b"\x7a",
                (_field(b"\x12", message.encode()) if message else b"")
                + (b"\x18" + _varint(code) if code else b""),
            )
        )
        parts.append(_REMOTE if parent is not None and parent.is_remote else _LOCAL)
        return b"".join(parts)

    def _attribute(self, key: str, value: Any) -> bytes:
        """One `Span.attributes` entry (field 9): a `KeyValue` with its `AnyValue`."""
        kind = type(value)
        pair = (key, kind, value)  # the type too: True == 1 == 1.0
        try:
            return self._pairs[pair]
        except KeyError:
            pass
        except TypeError:  # not hashable (a list)
            return self._attribute_by_sdk(key, value)
        encoded = self._encode_attribute(key, kind, value)
        if len(encoded) <= 256:  # not message content (`ASSISTANTD_TRACE_CONTENT`)
            if len(self._pairs) >= 4096:
                self._pairs.clear()
            self._pairs[pair] = encoded
        return encoded

    def _encode_attribute(self, key: str, kind: type, value: Any) -> bytes:
        if kind is str:
            try:
                data = value.encode()
            except UnicodeEncodeError:
                return self._attribute_by_sdk(key, value)
            encoded = b"\x0a" + _length(len(data)) + data  # string_value
        elif kind is bool:
            encoded = b"\x10\x01" if value else b"\x10\x00"  # bool_value
        elif kind is int and value in _INT64:
            encoded = b"\x18" + _varint(value & _U64)  # int_value
        elif kind is float:
            encoded = b"\x21" + _double(value)  # double_value
        elif kind is bytes:
            encoded = _field(b"\x3a", value)  # bytes_value
        else:
            return self._attribute_by_sdk(key, value)
        name = self._keys.get(key)
        if name is None:
            name = _field(b"\x0a", key.encode())
            if len(self._keys) < 1024:
                self._keys[key] = name
        return _field(b"\x4a", name + _field(b"\x12", encoded))

    @staticmethod
    def _attribute_by_sdk(key: str, value: Any) -> bytes:
        """Arrays, mappings and what the SDK drops (and logs) when it cannot encode it."""
        return b"".join(
            _field(b"\x4a", pair.SerializePartialToString())
            for pair in _encode_attributes({key: value})
        )


def encode_spans(spans: Sequence[ReadableSpan]) -> bytes:
    """The serialized `ExportTraceServiceRequest` of `spans` (an encoder of its own per call)."""
    return _Encoder().encode(spans)


class _Session(requests.Session):
    """A requests session that reads the environment's proxy and CA bundle settings (which
    `Session.request` gathers on every call, going through all of `os.environ`) once per URL:
    an exporter posts to one endpoint, and the process's environment does not change."""

    def __init__(self) -> None:
        super().__init__()
        self._environment: dict[str, dict[str, Any]] = {}

    def merge_environment_settings(
        self, url: str, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        if proxies or stream is not None or verify is not None or cert is not None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        settings = self._environment.get(url)
        if settings is None:
            settings = super().merge_environment_settings(url, {}, None, None, None)
            if len(self._environment) < 8:
                self._environment[url] = settings
        return {**settings, "proxies": dict(settings["proxies"])}


# The SDK's exporter takes its session from a credential provider when one of these is set.
_CREDENTIAL_PROVIDERS = (
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_CREDENTIAL_PROVIDER",
    "OTEL_PYTHON_EXPORTER_OTLP_HTTP_TRACES_CREDENTIAL_PROVIDER",
)


class WireSpanExporter(OTLPSpanExporter):
    """`OTLPSpanExporter` with the encoder and session above; the SDK's otherwise."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get("session") is None and not any(map(os.environ.get, _CREDENTIAL_PROVIDERS)):
            kwargs["session"] = _Session()
        super().__init__(*args, **kwargs)
        self._encoder = _Encoder()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._shutdown:
            _logger.warning("Exporter already shutdown, ignoring batch")
            return SpanExportResult.FAILURE
        with self._metrics.export_operation(len(spans)) as result:
            try:
                data = self._encoder.encode(spans)
            except Exception as error:
                _logger.error("Failed to encode span batch: %s", error)
                result.error = error
                return SpanExportResult.FAILURE
            if _is_request_too_large(data, self._max_request_size):
                _logger.warning(
                    "Dropping span batch: serialized size %d bytes exceeds max_request_size %d"
                    " bytes.",
                    len(data),
                    self._max_request_size,
                )
                result.error = RequestPayloadTooLargeError(
                    f"Serialized span request size {len(data)} bytes exceeds max_request_size"
                    f" {self._max_request_size} bytes."
                )
                return SpanExportResult.FAILURE
            sent = self._client.export(data)
            if not sent.success:
                result.error = sent.error
                result.error_attrs = (
                    {HTTP_RESPONSE_STATUS_CODE: sent.status_code}
                    if sent.status_code is not None
                    else None
                )
                return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS
