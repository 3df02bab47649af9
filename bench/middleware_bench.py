"""What the observability middleware costs per request, in process: CPU time of the `Observe`
middleware around a trivial ASGI app with metrics off, metrics on, and tracing on (spans
batched to an exporter that encodes them as OTLP protobuf, as the real one does, and sends
nothing). Finer than observability_bench (no HTTP, no database, no /proc tick resolution), so
the cost of a span shows even on a busy machine. Process CPU includes the export thread.

    PYTHONPATH=src:. .venv/bin/python bench/middleware_bench.py [--requests 5000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from assistantd.observability.metrics import Metrics
from assistantd.observability.middleware import Observe
from assistantd.observability.tracing import Tracing

ROUTE = Route("/assistants/{assistant_id}", lambda request: None)


class EncodeOnly(SpanExporter):
    def __init__(self) -> None:
        self.bytes = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.bytes += len(encode_spans(spans).SerializeToString())
        return SpanExportResult.SUCCESS


async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
    scope["route"] = ROUTE  # as the router leaves it
    scope["path_params"] = {"assistant_id": "asst_abc"}
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


def middleware(kind: str) -> tuple[Observe, Tracing]:
    tracing = Tracing(None)
    if kind == "tracing":
        provider = TracerProvider()
        # A queue that never drops, so every span is encoded (the default holds 2048).
        provider.add_span_processor(BatchSpanProcessor(EncodeOnly(), max_queue_size=1 << 20))
        tracing = Tracing(provider)
    metrics = Metrics() if kind != "off" else None
    return Observe(endpoint, metrics=metrics, tracing=tracing, access_log=False), tracing


async def drive(app: Observe, requests: int) -> None:
    async def receive() -> Message:
        return {"type": "http.request"}

    async def send(message: Message) -> None:
        pass

    for _ in range(requests):
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/v1/assistants/asst_abc",
            "headers": [(b"authorization", b"Bearer sk-x")],
        }
        await app(scope, receive, send)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    apps = {kind: middleware(kind) for kind in ("off", "metrics", "tracing")}
    cpu: dict[str, list[float]] = {kind: [] for kind in apps}
    for app, _ in apps.values():
        asyncio.run(drive(app, 500))  # warm-up
    for _ in range(args.rounds):
        for kind, (app, tracing) in apps.items():
            before = time.process_time()
            asyncio.run(drive(app, args.requests))
            if tracing.provider is not None:
                tracing.provider.force_flush()
            cpu[kind].append((time.process_time() - before) / args.requests * 1e6)
    for kind, values in cpu.items():
        extra = [v - o for v, o in zip(values, cpu["off"], strict=True)]
        print(
            f"  {kind:8} {min(values):7.1f} µs CPU per request (least),"
            f" {statistics.median(values):7.1f} (median);"
            f" over off: {statistics.median(extra):6.1f} µs (median of rounds)"
        )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
